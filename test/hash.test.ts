import { strict as assert } from "node:assert"
import { describe, it } from "node:test"
import fc from "fast-check"
import { canonicalJson, isSha256, type KeyMaterial, sha256, stageKey } from "../src/hash/index.ts"

describe("sha256", () => {
  it("matches known vectors for strings", () => {
    assert.equal(sha256(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert.equal(sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert.equal(
      sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    )
  })

  it("matches known vectors for bytes", () => {
    assert.equal(sha256(new Uint8Array(0)), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert.equal(sha256(Uint8Array.of(0)), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert.equal(sha256(Uint8Array.of(0x61, 0x62, 0x63)), sha256("abc"))
  })

  it("hashes a string as its UTF-8 bytes", () => {
    assert.equal(sha256("é"), "4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c")
    assert.equal(sha256("é"), sha256(Uint8Array.of(0xc3, 0xa9)))
    assert.equal(sha256("😀"), sha256(new TextEncoder().encode("😀")))
  })

  it("hashes only the view's bytes of a subarray", () => {
    const buf = new TextEncoder().encode("xxabcxx")
    assert.equal(sha256(buf.subarray(2, 5)), sha256("abc"))
  })

  it("gives lowercase 64-digit hex that isSha256 accepts", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => isSha256(sha256(b))))
    assert.equal(isSha256("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"), false)
    assert.equal(isSha256("e3b0"), false)
    assert.equal(isSha256(sha256("") + "0"), false)
    assert.equal(isSha256("g".repeat(64)), false)
  })
})

describe("canonicalJson (RFC 8785)", () => {
  it("sorts object keys recursively and drops whitespace", () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }),
      "{\"a\":{\"c\":null,\"d\":[3,{\"y\":2,\"z\":1}]},\"b\":1}"
    )
    assert.equal(canonicalJson([]), "[]")
    assert.equal(canonicalJson({}), "{}")
  })

  it("reproduces the RFC 8785 section 3.2.2 example", () => {
    const input = JSON.parse(
      "{\"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]," +
        "\"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\"," +
        "\"literals\": [null, true, false]}"
    )
    assert.equal(
      canonicalJson(input),
      "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27]," +
        "\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
    )
  })

  it("sorts keys by UTF-16 code units (RFC 8785 section 3.2.3)", () => {
    const input = {
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }
    assert.equal(
      canonicalJson(input),
      "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\"," +
        "\"\u20ac\":\"Euro Sign\",\"\ud83d\ude00\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"
    )
  })

  it("formats numbers as ECMAScript does (RFC 8785 appendix B)", () => {
    const vectors: Array<[number, string]> = [
      [0, "0"],
      [-0, "0"],
      [5e-324, "5e-324"],
      [-5e-324, "-5e-324"],
      [1.7976931348623157e308, "1.7976931348623157e+308"],
      [9007199254740992, "9007199254740992"],
      [-9007199254740992, "-9007199254740992"],
      [295147905179352830000, "295147905179352830000"],
      [9.999999999999997e22, "9.999999999999997e+22"],
      [1e23, "1e+23"],
      [1e21, "1e+21"],
      [999999999999999700000, "999999999999999700000"],
      [0.000001, "0.000001"],
      [1e-7, "1e-7"],
      [0.1, "0.1"],
      [4.5, "4.5"],
      [333333333.3333333, "333333333.3333333"]
    ]
    for (const [n, s] of vectors) assert.equal(canonicalJson(n), s, `${n}`)
    assert.equal(canonicalJson({ x: -0 }), "{\"x\":0}")
  })

  it("escapes control characters with lowercase hex and leaves other characters as they are", () => {
    assert.equal(canonicalJson("\u0000\u001f\b\t\n\f\r"), "\"\\u0000\\u001f\\b\\t\\n\\f\\r\"")
    assert.equal(canonicalJson("\"\\/"), "\"\\\"\\\\/\"")
    assert.equal(canonicalJson("é😀\u2028\u007f"), "\"é😀\u2028\u007f\"")
  })

  it("is invariant to key insertion order", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (v, seed) => canonicalJson(shuffleKeys(v, seed)) === canonicalJson(v))
    )
  })

  it("parses back to an equal value (up to -0)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        assert.deepEqual(JSON.parse(canonicalJson(v)), normalizeZero(v))
      })
    )
  })

  it("refuses values JSON cannot represent, naming the path", () => {
    const refuses = (v: unknown, re: RegExp) =>
      assert.throws(() => canonicalJson(v), (e: unknown) => e instanceof TypeError && re.test(e.message))
    refuses(undefined, /undefined at \$ /)
    refuses({ a: undefined }, /undefined at \$\.a /)
    refuses({ a: [1, NaN] }, /non-finite number at \$\.a\[1\]/)
    refuses({ a: { b: [0, Infinity] } }, /non-finite number at \$\.a\.b\[1\]/)
    refuses([-Infinity], /non-finite number at \$\[0\]/)
    refuses({ f: () => 1 }, /function at \$\.f /)
    refuses({ n: 1n }, /bigint at \$\.n /)
    refuses([Symbol("s")], /symbol at \$\[0\] /)
  })
})

const material = (over: Partial<KeyMaterial> = {}): KeyMaterial => ({
  kind: "train/ngram",
  version: 1,
  params: { order: 3, smoothing: { kind: "kneser-ney", discount: 0.75 } },
  inputs: { corpus: sha256("corpus"), tokenizer: sha256("tokenizer") },
  env: { "parquet-wasm": "0.8.0", backend: "cpu" },
  ...over
})

describe("stageKey", () => {
  it("is the sha256 of the canonical {kind, version, params, inputs, env}", () => {
    const m = material()
    assert.equal(
      stageKey(m),
      sha256(canonicalJson({ env: m.env, inputs: m.inputs, kind: m.kind, params: m.params, version: m.version }))
    )
    assert.ok(isSha256(stageKey(m)))
  })

  it("is invariant to key order in params, inputs and env", () => {
    const a = material()
    const b = material({
      params: { smoothing: { discount: 0.75, kind: "kneser-ney" }, order: 3 },
      inputs: { tokenizer: sha256("tokenizer"), corpus: sha256("corpus") },
      env: { backend: "cpu", "parquet-wasm": "0.8.0" }
    })
    assert.equal(stageKey(b), stageKey(a))
  })

  it("changes with kind, version, any param, any input hash, any env entry", () => {
    const base = stageKey(material())
    const variants: Array<[string, KeyMaterial]> = [
      ["kind", material({ kind: "train/ngram2" })],
      ["version", material({ version: 2 })],
      ["param value", material({ params: { order: 4, smoothing: { kind: "kneser-ney", discount: 0.75 } } })],
      ["nested param", material({ params: { order: 3, smoothing: { kind: "kneser-ney", discount: 0.5 } } })],
      ["extra param", material({ params: { order: 3, smoothing: { kind: "kneser-ney", discount: 0.75 }, x: null } })],
      ["input hash", material({ inputs: { corpus: sha256("other"), tokenizer: sha256("tokenizer") } })],
      ["input name", material({ inputs: { text: sha256("corpus"), tokenizer: sha256("tokenizer") } })],
      [
        "extra input",
        material({ inputs: { corpus: sha256("corpus"), tokenizer: sha256("tokenizer"), z: sha256("") } })
      ],
      ["env value", material({ env: { "parquet-wasm": "0.8.1", backend: "cpu" } })],
      ["env entry", material({ env: { "parquet-wasm": "0.8.0", backend: "cpu", "apache-arrow": "21" } })],
      ["env removed", material({ env: { backend: "cpu" } })]
    ]
    const keys = new Set([base])
    for (const [what, m] of variants) {
      const k = stageKey(m)
      assert.notEqual(k, base, what)
      keys.add(k)
    }
    assert.equal(keys.size, variants.length + 1)
  })

  it("does not confuse params with inputs or env (no field-swapping collisions)", () => {
    const h = sha256("x")
    const asParam = stageKey(material({ params: { a: h }, inputs: {}, env: {} }))
    const asInput = stageKey(material({ params: {}, inputs: { a: h }, env: {} }))
    const asEnv = stageKey(material({ params: {}, inputs: {}, env: { a: h } }))
    assert.equal(new Set([asParam, asInput, asEnv]).size, 3)
  })

  it("property: random JSON params give the same key in any key order, and a different one when changed", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.integer(), fc.string(), (params, seed, leaf) => {
        const m = material({ params })
        assert.equal(stageKey(material({ params: shuffleKeys(params, seed) })), stageKey(m))
        // Setting a fresh key always changes the canonical form, so it must change the key.
        fc.pre(!Object.hasOwn(params, "~fresh~" + leaf))
        const changed = { ...params, ["~fresh~" + leaf]: leaf }
        assert.notEqual(stageKey(material({ params: changed })), stageKey(m))
        // Distinct canonical params give distinct keys.
        const other = { ...params, "~fresh~": 0 }
        const other2 = { ...params, "~fresh~": 1 }
        assert.notEqual(stageKey(material({ params: other })), stageKey(material({ params: other2 })))
      })
    )
  })
})

/** A copy of `v` whose objects list their keys in a seeded random order. */
const shuffleKeys = (v: unknown, seed: number): unknown => {
  let s = seed >>> 0 || 1
  const next = () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s
  }
  const go = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(go)
    if (typeof x !== "object" || x === null) return x
    const entries = Object.entries(x)
    for (let i = entries.length - 1; i > 0; i--) {
      const j = next() % (i + 1)
      ;[entries[i], entries[j]] = [entries[j], entries[i]]
    }
    const out: Record<string, unknown> = {}
    // defineProperty: a "__proto__" key must stay an own key, as JSON.parse makes it.
    for (const [k, val] of entries) {
      Object.defineProperty(out, k, { value: go(val), enumerable: true, writable: true, configurable: true })
    }
    return out
  }
  return go(v)
}

const normalizeZero = (v: unknown): unknown => {
  if (Object.is(v, -0)) return 0
  if (Array.isArray(v)) return v.map(normalizeZero)
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalizeZero(x)]))
  }
  return v
}
