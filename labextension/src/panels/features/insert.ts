import { Clipboard } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

/** Where code for a training frame went. */
export type InsertResult =
  | { kind: 'inserted'; notebook: NotebookPanel; index: number }
  | { kind: 'copied' };

/**
 * Put `code` in a new code cell below the active cell of the current notebook (the one last
 * focused, even when a feature view's tab has the focus now). Without a notebook, copy it to the
 * clipboard.
 */
export function insertCode(
  code: string,
  notebooks: INotebookTracker | null
): InsertResult {
  const panel = notebooks?.currentWidget ?? null;
  const notebook = panel?.content ?? null;
  const model = notebook?.model ?? null;
  if (!panel || !notebook || !model) {
    Clipboard.copyToSystem(code);
    return { kind: 'copied' };
  }
  const active = notebook.activeCellIndex;
  const index = active < 0 ? model.cells.length : active + 1;
  model.sharedModel.insertCell(index, {
    cell_type: 'code',
    source: code,
    metadata: {}
  });
  notebook.activeCellIndex = index;
  notebook.mode = 'command';
  return { kind: 'inserted', notebook: panel, index };
}
