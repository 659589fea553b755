import * as React from 'react';

import { INotebookParameter } from '../../../api';
import { Empty, ErrorMessage, Loading } from '../../../components/status';
import { FieldKind, fieldKind } from '../form';
import { JobsModel, shortId } from '../model';

function baseName(path: string): string {
  return path.split('/').pop() ?? path;
}

/** One input per parameter, typed by the parameter's type. */
function Field(props: {
  model: JobsModel;
  parameter: INotebookParameter;
}): JSX.Element {
  const { model, parameter } = props;
  const kind: FieldKind = fieldKind(parameter);
  const value = model.value(parameter);
  const error = model.fieldError(parameter.name);
  const id = `jp-mlops-job-param-${parameter.name}`;
  const title =
    `${parameter.name} (${parameter.type}), default ${parameter.default}` +
    (parameter.help ? `: ${parameter.help}` : '');
  let input: JSX.Element;
  if (kind === 'bool') {
    input = (
      <input
        id={id}
        type="checkbox"
        checked={value === true}
        onChange={e => model.setValue(parameter.name, e.target.checked)}
      />
    );
  } else {
    const number = kind === 'int' || kind === 'float';
    input = (
      <input
        id={id}
        className={'jp-mlops-JobField-input' + (error ? ' jp-mod-invalid' : '')}
        type={number ? 'number' : 'text'}
        step={kind === 'int' ? 1 : number ? 'any' : undefined}
        spellCheck={false}
        placeholder={kind === 'json' ? 'JSON' : kind === 'any' ? 'None' : ''}
        value={String(value)}
        onChange={e => model.setValue(parameter.name, e.target.value)}
      />
    );
  }
  return (
    <div
      className={
        'jp-mlops-JobField' +
        (kind === 'bool' ? ' jp-mlops-JobField--bool' : '') +
        (model.isSet(parameter.name) ? ' jp-mod-set' : '')
      }
      data-parameter={parameter.name}
      data-type={parameter.type}
    >
      <label htmlFor={id} title={title}>
        <span className="jp-mlops-JobField-name">{parameter.name}</span>
        <span className="jp-mlops-JobField-type">{parameter.type}</span>
      </label>
      {input}
      {error && <div className="jp-mlops-JobField-error">{error}</div>}
    </div>
  );
}

/** "Submit current notebook": a form made from the notebook's `parameters` cell. */
export function SubmitForm(props: { model: JobsModel }): JSX.Element {
  const { model } = props;
  const target = model.target;
  const parameters = model.parameters;
  const action = model.submitAction;
  const busy = action?.status === 'busy';

  let body: JSX.Element;
  if (!target) {
    body = <Empty>Open a notebook to run it as a job.</Empty>;
  } else if (model.parametersStatus === 'error' && model.parametersError) {
    body = (
      <ErrorMessage
        error={model.parametersError}
        title="Cannot read its parameters"
        onRetry={() => void model.reloadParameters()}
      />
    );
  } else if (!parameters) {
    body = <Loading label="Reading its parameters…" />;
  } else {
    body = (
      <>
        {!parameters.has_parameters_cell && (
          <div className="jp-mlops-JobForm-note">
            No cell tagged <code>parameters</code>: it runs as it is.
          </div>
        )}
        {parameters.parameters.length > 0 && (
          <div className="jp-mlops-JobForm-fields">
            {parameters.parameters.map(p => (
              <Field key={p.name} model={model} parameter={p} />
            ))}
          </div>
        )}
      </>
    );
  }

  return (
    <form
      className="jp-mlops-JobForm"
      aria-label="Run a notebook as a job"
      onSubmit={e => {
        e.preventDefault();
        void model.submit();
      }}
    >
      <div className="jp-mlops-JobForm-header">
        <span className="jp-mlops-JobForm-title">
          {target?.rerun
            ? `Re-run ${shortId(target.rerun.id)}`
            : 'Submit current notebook'}
        </span>
        {target?.rerun && (
          <button
            type="button"
            className="jp-mlops-Button jp-mlops-Button--link"
            title="Back to the current notebook"
            onClick={() => model.closeRerun()}
          >
            Close
          </button>
        )}
      </div>
      {target && (
        <div className="jp-mlops-JobForm-notebook" title={target.notebook}>
          {baseName(target.notebook)}
        </div>
      )}
      {target && (target.rerun?.experiment ?? parameters?.experiment) && (
        <div
          className="jp-mlops-JobForm-experiment"
          title="The MLflow experiment of the job's run"
        >
          in {target.rerun?.experiment ?? parameters?.experiment}
        </div>
      )}
      {body}
      {target && (
        <div className="jp-mlops-JobForm-actions">
          <button
            type="submit"
            className="jp-mlops-Button jp-mlops-Button--accept"
            disabled={busy || !parameters}
          >
            {target.rerun ? 'Re-run' : 'Submit'}
          </button>
          {action && action.status !== 'error' && (
            <span
              className="jp-mlops-JobForm-status"
              aria-busy={busy ? 'true' : undefined}
            >
              {action.label}
            </span>
          )}
        </div>
      )}
      {action?.status === 'error' && action.error && (
        <ErrorMessage error={action.error} title={action.label} />
      )}
    </form>
  );
}
