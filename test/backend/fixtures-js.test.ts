import { JsBackend } from '../../src/backend/js/index.js';
import { LOCAL_FIXTURES, runFixtureSuite } from '../shared/fixtureSuite.js';

runFixtureSuite('js', () => new JsBackend());
runFixtureSuite('js', () => new JsBackend(), 'wrn-10-2-tiefree', { value: 1e-4, grad: 1e-3 }, LOCAL_FIXTURES);
