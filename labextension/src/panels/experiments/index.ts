export * from './compare/charts';
export * from './compare/model';
export * from './compare/widget';
export * from './model';
export * from './register';
export * from './widget';
