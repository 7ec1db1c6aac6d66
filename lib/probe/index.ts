/**
 * The probe as a library (`ioperm/probe`): the survey `ioperm-probe` runs, its
 * report's types (probe.schema.json) and its renderings, for a script that
 * surveys a machine its own way.
 */
export * from "./controllers.ts";
export { ppdevReport, surveyPpdev } from "./ppdev.ts";
export { renderJson, renderText } from "./render.ts";
export * from "./report.ts";
export { openForSurvey, parseSections, type SurveyOptions, survey } from "./survey.ts";
