import { JSONValue } from '@lumino/coreutils';

import { INotebookParameter } from '../../api';

/** What a form field holds: the text of an input, or a checkbox's state. */
export type FieldValue = string | boolean;

/** How a parameter is edited, from its type (the type of its default). */
export type FieldKind = 'int' | 'float' | 'bool' | 'str' | 'json' | 'any';

export function fieldKind(parameter: INotebookParameter): FieldKind {
  switch (parameter.type) {
    case 'int':
    case 'float':
    case 'bool':
    case 'str':
      return parameter.type;
    case 'list':
    case 'tuple':
    case 'dict':
      return 'json';
    default:
      return 'any';
  }
}

/** The field's value for a parameter's default, as written in the notebook (Python). */
export function defaultValue(parameter: INotebookParameter): FieldValue {
  const text = parameter.default.trim();
  switch (fieldKind(parameter)) {
    case 'bool':
      return text === 'True';
    case 'str':
      return pythonString(text) ?? text;
    case 'json':
      return pythonToJson(text) ?? text;
    case 'any':
      return text === 'None' ? '' : (pythonToJson(text) ?? text);
    default:
      return text;
  }
}

/** The field's value for a value a job was given (JSON from the server). */
export function jobValue(
  parameter: INotebookParameter,
  value: JSONValue | undefined
): FieldValue {
  if (value === undefined) {
    return defaultValue(parameter);
  }
  const kind = fieldKind(parameter);
  if (kind === 'bool') {
    return value === true;
  }
  if (kind === 'str' && typeof value === 'string') {
    return value;
  }
  if (kind === 'any' && value === null) {
    return '';
  }
  return typeof value === 'string' && kind === 'any'
    ? value
    : JSON.stringify(value);
}

/** A field's value for the REST API, or why it is not one. */
export function parseField(
  parameter: INotebookParameter,
  value: FieldValue
): { value: JSONValue } | { error: string } {
  const kind = fieldKind(parameter);
  if (kind === 'bool') {
    return { value: value === true };
  }
  const text = String(value);
  switch (kind) {
    case 'int':
      return /^\s*[-+]?\d+\s*$/.test(text)
        ? { value: parseInt(text, 10) }
        : { error: 'a whole number' };
    case 'float': {
      const number = Number(text);
      return text.trim() !== '' && Number.isFinite(number)
        ? { value: number }
        : { error: 'a number' };
    }
    case 'str':
      return { value: text };
    case 'json': {
      const parsed = parseJson(text);
      const wantsObject = parameter.type === 'dict';
      const ok =
        parsed !== undefined &&
        parsed !== null &&
        typeof parsed === 'object' &&
        Array.isArray(parsed) !== wantsObject;
      return ok
        ? { value: parsed }
        : {
            error: wantsObject
              ? 'a JSON object: {"key": 1}'
              : 'a JSON list: [1, 2]'
          };
    }
    default:
      // No type to go by (a None default): JSON when it reads as JSON, else the text.
      if (text.trim() === '') {
        return { value: null };
      }
      return { value: parseJson(text) ?? text };
  }
}

function parseJson(text: string): JSONValue | undefined {
  try {
    return JSON.parse(text) as JSONValue;
  } catch {
    return undefined;
  }
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  "'": "'",
  '"': '"'
};

/** The value of a Python string literal (`'base'`, `"a\\nb"`); null if it is not one. */
export function pythonString(literal: string): string | null {
  const match = /^([rRuU]?)('''|"""|'|")([\s\S]*)\2$/.exec(literal);
  if (!match) {
    return null;
  }
  const [, prefix, , body] = match;
  if (prefix.toLowerCase() === 'r') {
    return body;
  }
  return body.replace(/\\(.)/g, (all, c: string) => ESCAPES[c] ?? all);
}

/**
 * A Python literal of lists, tuples, dicts, strings, numbers, True/False/None as JSON text;
 * null if it does not convert.
 */
export function pythonToJson(literal: string): string | null {
  let out = '';
  let i = 0;
  while (i < literal.length) {
    const c = literal[i];
    if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < literal.length && literal[j] !== c) {
        j += literal[j] === '\\' ? 2 : 1;
      }
      const value = pythonString(literal.slice(i, j + 1));
      if (value === null) {
        return null;
      }
      out += JSON.stringify(value);
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      const word = /^[A-Za-z_]\w*/.exec(literal.slice(i))?.[0] ?? c;
      const json = { True: 'true', False: 'false', None: 'null' }[word];
      if (json === undefined) {
        return null;
      }
      out += json;
      i += word.length;
    } else {
      out += c === '(' ? '[' : c === ')' ? ']' : c;
      i += 1;
    }
  }
  // A trailing comma is fine in Python, not in JSON: `(1,)`, `[1, 2,]`.
  out = out.replace(/,(\s*[\]}])/g, '$1');
  const parsed = parseJson(out);
  return parsed === undefined ? null : JSON.stringify(parsed);
}
