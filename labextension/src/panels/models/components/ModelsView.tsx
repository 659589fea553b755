import * as React from 'react';

import {
  Empty,
  ErrorMessage,
  formatNumber,
  Loading
} from '../../../components/status';
import { keyMetrics, when } from '../format';
import { ModelsModel } from '../model';
import { Deployments } from './Deployments';
import { VersionDetail } from './VersionDetail';

/** Choose with a click, Enter or Space. */
function activate(handler: () => void) {
  return {
    onClick: handler,
    onKeyDown: (event: React.KeyboardEvent) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        handler();
      }
    }
  };
}

function ModelList(props: { model: ModelsModel }): JSX.Element {
  const { model } = props;
  if (model.modelsStatus === 'error' && model.modelsError) {
    return (
      <ErrorMessage
        title="Cannot list registered models"
        error={model.modelsError}
        onRetry={() => void model.refresh()}
      />
    );
  }
  if (model.models.length === 0) {
    return model.modelsStatus === 'ready' ? (
      <Empty>
        No registered models yet. Tick a run under Experiments and click
        Register, or run <code>%mlops register RUN_ID --name NAME</code>.
      </Empty>
    ) : (
      <Loading label="Loading models…" />
    );
  }
  return (
    <ul
      className="jp-mlops-ModelList"
      role="listbox"
      aria-label="Registered models"
    >
      {model.models.map(m => {
        const selected = m.name === model.selectedModel;
        const aliases = Object.entries(m.aliases).sort(([a], [b]) =>
          a.localeCompare(b)
        );
        return (
          <li
            key={m.name}
            role="option"
            aria-selected={selected}
            data-model={m.name}
            tabIndex={0}
            className={
              'jp-mlops-ModelList-item' + (selected ? ' jp-mod-selected' : '')
            }
            title={m.description || `Registered model ${m.name}`}
            {...activate(() => void model.selectModel(m.name))}
          >
            <span className="jp-mlops-ModelList-name">{m.name}</span>
            {aliases.map(([alias, version]) => (
              <span
                key={alias}
                className="jp-mlops-Badge jp-mlops-Badge--alias"
                title={`@${alias} is version ${version}`}
              >
                @{alias} v{version}
              </span>
            ))}
            <span className="jp-mlops-ModelList-count">
              {m.versions} version{m.versions === 1 ? '' : 's'}
            </span>
          </li>
        );
      })}
    </ul>
  );
}

function VersionsTable(props: { model: ModelsModel }): JSX.Element | null {
  const { model } = props;
  if (model.selectedModel === null) {
    return null;
  }
  if (model.modelStatus === 'error' && model.modelError) {
    return (
      <ErrorMessage
        title={`Cannot load ${model.selectedModel}`}
        error={model.modelError}
        onRetry={() => void model.refresh()}
      />
    );
  }
  const detail = model.modelDetail;
  if (!detail || detail.name !== model.selectedModel) {
    return <Loading label="Loading versions…" />;
  }
  const metrics = keyMetrics(detail.version_list);
  return (
    <div className="jp-mlops-TableScroll">
      <table
        className="jp-mlops-VersionsTable"
        aria-label={`Versions of ${detail.name}`}
      >
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Aliases</th>
            {metrics.map(name => (
              <th key={name} scope="col" className="jp-mlops-number">
                {name}
              </th>
            ))}
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {detail.version_list.map(v => {
            const selected = v.version === model.selectedVersion;
            const created = when(v.created);
            return (
              <tr
                key={v.version}
                data-version={v.version}
                tabIndex={0}
                aria-selected={selected}
                className={
                  'jp-mlops-VersionsTable-row' +
                  (selected ? ' jp-mod-selected' : '')
                }
                title={v.description || undefined}
                {...activate(() => void model.selectVersion(v.version))}
              >
                <td className="jp-mlops-VersionsTable-version">v{v.version}</td>
                <td>
                  {v.aliases.map(alias => (
                    <span
                      key={alias}
                      className="jp-mlops-Badge jp-mlops-Badge--alias"
                    >
                      @{alias}
                    </span>
                  ))}
                </td>
                {metrics.map(name => (
                  <td
                    key={name}
                    className="jp-mlops-number"
                    title={
                      v.metrics[name] === undefined
                        ? undefined
                        : String(v.metrics[name])
                    }
                  >
                    {formatNumber(v.metrics[name])}
                  </td>
                ))}
                <td title={created.full}>{created.human}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** The Models section of the MLOps sidebar. */
export function ModelsView(props: {
  model: ModelsModel;
  onOpenNotebook: (path: string) => void;
}): JSX.Element {
  const { model, onOpenNotebook } = props;
  return (
    <div className="jp-mlops-Models">
      <ModelList model={model} />
      <VersionsTable model={model} />
      <VersionDetail model={model} onOpenNotebook={onOpenNotebook} />
      <Deployments model={model} />
    </div>
  );
}
