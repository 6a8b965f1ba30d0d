import { JsBackend } from '../../src/backend/js/index.js';
import { runFixtureSuite } from '../shared/fixtureSuite.js';

runFixtureSuite('js', () => new JsBackend());
