// nn.Transformer 1+1 layers, d_model 512, 8 heads, lengths 160 and 128, against PyTorch under both kernel sets.
import { midsizeTests } from './midsize_node.ts';

midsizeTests('transformer-d512-h8-s160-t128');
