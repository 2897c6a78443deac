// The pages, in navigation order.
import logs from './logs.js';
import metrics from './metrics.js';
import traces from './traces.js';
import alerts from './alerts.js';
import audit from './audit.js';

export default [logs, metrics, traces, alerts, audit];
