// TransformerEncoder 1 layer, d_model 768, 12 heads, length 384, against PyTorch under both kernel sets.
import { midsizeTests } from './midsize_node.ts';

midsizeTests('encoder-d768-h12-len384');
