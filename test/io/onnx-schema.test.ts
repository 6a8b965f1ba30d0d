/**
 * The exporter's hand-declared ONNX schema subset (src/io/onnx.ts, ONNX_SCHEMA) against the official
 * onnx.proto that Python's onnx package ships (Debian's python3-onnx, installed in CI by
 * scripts/setup.sh --with-reference): every message and field we declare exists there with the same
 * number, the same wire type and the same repeatedness.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import protobuf from 'protobufjs';
import { ONNX_SCHEMA } from '../../src/io/onnx.js';
import { skipWithout } from '../shared/reference.js';

function officialProto(): string | null {
  try {
    const p = execFileSync('/usr/bin/python3', ['-c', 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "onnx.proto"))'], { encoding: 'utf8', timeout: 60_000 }).trim();
    return existsSync(p) ? p : null;
  } catch {
    return null;
  }
}

/** Our flattened names for the official nested messages. */
const NESTED: Record<string, string> = { TypeProtoTensor: 'TypeProto.Tensor', Dimension: 'TensorShapeProto.Dimension' };

const proto = officialProto();

test('every field of the exporter\'s ONNX schema matches the official onnx.proto', { skip: skipWithout(proto !== null, 'Python onnx (python3-onnx) not installed') }, () => {
  assert.ok(proto, 'official onnx.proto found (python3-onnx)');
  const root = new protobuf.Root().loadSync(proto, { keepCase: true });
  root.resolveAll();
  let checked = 0;
  const messages = ONNX_SCHEMA.nested.onnx.nested as Record<string, { fields: Record<string, { type: string; id: number; rule?: string }> }>;
  for (const [msg, def] of Object.entries(messages)) {
    const official = root.lookupType(`onnx.${NESTED[msg] ?? msg}`);
    for (const [name, f] of Object.entries(def.fields)) {
      const of = official.fields[name];
      assert.ok(of, `${msg}.${name}: not in the official ${official.fullName}`);
      assert.equal(f.id, of.id, `${msg}.${name}: field number`);
      assert.equal(f.rule === 'repeated', of.repeated, `${msg}.${name}: repeated`);
      const rt = of.resolvedType;
      if (rt instanceof protobuf.Enum) assert.equal(f.type, 'int32', `${msg}.${name}: enum ${rt.fullName} is written as int32`);
      else if (rt instanceof protobuf.Type) assert.equal(`.onnx.${NESTED[f.type] ?? f.type}`, rt.fullName, `${msg}.${name}: message type`);
      else assert.equal(f.type, of.type, `${msg}.${name}: scalar type`);
      checked++;
    }
  }
  assert.ok(checked >= 50, `${checked} fields checked`);
});
