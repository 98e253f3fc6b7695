/** The handle VS Code gives a webview: messages to the host and the state VS Code keeps for it. */
export interface VsCodeApi<Command, State> {
  postMessage(message: Command): void;
  getState(): unknown;
  setState(state: State): void;
}
declare function acquireVsCodeApi(): VsCodeApi<never, never>;

/** acquireVsCodeApi may be called once per page; each webview calls this once, typed. */
export function vsCodeApi<Command, State>(): VsCodeApi<Command, State> {
  return acquireVsCodeApi() as unknown as VsCodeApi<Command, State>;
}

/** A DOM element with properties and children: enough to build the panels without a framework. */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** A codicon, from the codicon font the page links. */
export function icon(name: string): HTMLSpanElement {
  return element('span', { className: `codicon codicon-${name}` });
}
