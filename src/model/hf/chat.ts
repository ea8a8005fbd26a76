// Chat prompts as Hugging Face's tokenizer.apply_chat_template builds them: the checkpoint's Jinja chat_template
// (tokenizer_config.json) rendered by @huggingface/jinja with the messages, the special tokens and
// add_generation_prompt, so an instruct model sees the text it was trained on.
import { Template } from '@huggingface/jinja';
import { InputError } from '../inputs.ts';
import type { HfTokenizer } from './tokenizer.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The prompt text of `messages` (then the assistant's turn opened); the tokenizer must have a chat template. */
export function applyChatTemplate(tok: HfTokenizer, messages: readonly ChatMessage[], o: { addGenerationPrompt?: boolean } = {}): string {
  if (!tok.chatTemplate) throw new InputError('applyChatTemplate: this checkpoint has no chat_template in tokenizer_config.json');
  let template: Template;
  try {
    template = new Template(tok.chatTemplate);
  } catch (e) {
    throw new InputError(`applyChatTemplate: tokenizer_config.json's chat_template is not a template @huggingface/jinja reads (${(e as Error).message})`);
  }
  return template.render({
    messages: messages.map((m) => ({ ...m })),
    add_generation_prompt: o.addGenerationPrompt ?? true,
    bos_token: tok.special.bos?.token ?? '',
    eos_token: tok.special.eos?.token ?? '',
  });
}
