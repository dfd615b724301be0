/** Finds a function's or a class's export (module URL and name) through the inspector, and imports classes back. */
export { importClass } from "./import-class.js";
export { InspectorSession, type ScriptInfo, type ScopeEntry, type FunctionInternals } from "./inspector-session.js";
export { locateClass, locatedClass } from "./locate-class.js";
export { locateFunction, NotLocated, locateExport, readExportInPlace, privateMemberNames } from "./locate-function.js";
export { listModuleExports, isDefaultExpression, type BindingExport, type DefaultExpression, type ModuleExports } from "./module-exports.js";
