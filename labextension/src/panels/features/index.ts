export * from './format';
export * from './insert';
export * from './model';
export * from './view';
export * from './viewModel';
export * from './widget';
export * from './icon';
