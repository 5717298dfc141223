using System.Buffers.Binary;
using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text;
using AdCtr.Learning.Hashing;

namespace AdCtr.Learning.Features;

/// <summary>
/// Turns a <see cref="RawRow"/> into hashed sparse features (the hashing trick): each present field
/// contributes MurmurHash3_x86_32("field=value", seed) mod 2^bits, crosses contribute the hash of their
/// fields' hashes, and each model part gets a bias. One encoder per thread (it owns scratch buffers); no
/// allocation per example.
/// </summary>
public sealed class FeatureEncoder
{
    /// <summary>Salt of the bias feature's hash, so the bias never shares the hash of a field.</summary>
    private static readonly byte[] BiasToken = "__bias__"u8.ToArray();

    /// <summary>Count buckets with a cached hash: every bucket of a non-negative count (at most floor(ln(2^63)^2) = 1907).</summary>
    private const int CachedBuckets = 2048;

    /// <summary>Counts below this get their bucket from <see cref="SmallCountBuckets"/> instead of a logarithm.</summary>
    private const int SmallCounts = 4096;

    /// <summary><see cref="CountBucket"/> of 0 .. <see cref="SmallCounts"/> - 1 (computed by it, so identical).</summary>
    private static readonly ushort[] SmallCountBuckets = BuildSmallCountBuckets();

    private readonly FeatureSpec _spec;
    private readonly byte[][] _prefixes;
    private readonly MurmurHash3.Prefix[] _prefixStates;
    private readonly uint[] _numericHash;
    private readonly uint[]?[] _countHashes;
    private readonly FieldKind[] _kinds;
    private readonly NumericTransform[] _transforms;
    private readonly ModelPart[] _fieldParts;
    private readonly int[][] _crossFields;
    private readonly ModelPart[] _crossParts;
    private readonly uint[] _fieldHash;
    private readonly int _campaignField;
    private readonly uint _seed;
    private readonly int _mask;
    private readonly int _biasIndex;

    public FeatureEncoder(FeatureSpec spec)
    {
        spec.Validate();
        _spec = spec;
        _seed = spec.HashSeed;
        _mask = (1 << spec.Bits) - 1;
        var n = spec.Fields.Length;
        _prefixes = new byte[n][];
        _prefixStates = new MurmurHash3.Prefix[n];
        _numericHash = new uint[n];
        _countHashes = new uint[n][];
        _kinds = new FieldKind[n];
        _transforms = new NumericTransform[n];
        _fieldParts = new ModelPart[n];
        _fieldHash = new uint[n];
        for (var i = 0; i < n; i++)
        {
            var f = spec.Fields[i];
            _prefixes[i] = Encoding.UTF8.GetBytes(f.Name + "=");
            _prefixStates[i] = MurmurHash3.CreatePrefix(_prefixes[i], _seed);
            _numericHash[i] = MurmurHash3.Hash32(_prefixes[i], _seed);
            _kinds[i] = f.Kind;
            _transforms[i] = f.Transform;
            _fieldParts[i] = f.Models;
        }

        _crossFields = new int[spec.Crosses.Length][];
        _crossParts = new ModelPart[spec.Crosses.Length];
        for (var c = 0; c < spec.Crosses.Length; c++)
        {
            var names = spec.Crosses[c].Fields;
            _crossFields[c] = new int[names.Length];
            for (var k = 0; k < names.Length; k++)
            {
                _crossFields[c][k] = spec.IndexOf(names[k]);
            }

            _crossParts[c] = spec.Crosses[c].Models;
        }

        _campaignField = spec.CampaignField is null ? -1 : spec.IndexOf(spec.CampaignField);
        _biasIndex = (int)(MurmurHash3.Hash32(BiasToken, _seed) & (uint)_mask);
    }

    public FeatureSpec Spec => _spec;

    /// <summary>Index of the bias coordinate (the same in the global and the campaign part).</summary>
    public int BiasIndex => _biasIndex;

    /// <summary>
    /// The feature hash of each spec field in the row last given to <see cref="Encode"/>, 0 when the field was
    /// missing (its feature index is hash mod 2^bits; a numeric field's is the hash of its name). For learners
    /// that need to know which field a feature came from (field-aware factorization machines, trees).
    /// </summary>
    public ReadOnlySpan<uint> FieldHashes => _fieldHash;

    /// <summary>Encodes <paramref name="row"/> into <paramref name="output"/> (cleared first).</summary>
    public void Encode(RawRow row, EncodedExample output)
    {
        output.Clear();
        var global = output.Global;
        var campaign = output.Campaign;
        global.Add(_biasIndex, 1f);

        var fields = _prefixes.Length;
        var fieldHash = _fieldHash;
        for (var i = 0; i < fields; i++)
        {
            if (!row.IsPresent(i))
            {
                fieldHash[i] = 0;
                continue;
            }

            var value = row.Get(i);
            uint h;
            var x = 1f;
            switch (_kinds[i])
            {
                case FieldKind.Count:
                    h = HashCount(i, value);
                    break;
                case FieldKind.Numeric:
                    if (!TryParseNumeric(value, _transforms[i], out x))
                    {
                        fieldHash[i] = 0;
                        continue;
                    }

                    // One coordinate per numeric field: the hash of "field=".
                    h = _numericHash[i];
                    break;
                default:
                    h = HashValue(i, value);
                    break;
            }

            // A field hash of 0 marks "missing" for the crosses; remap the (1 in 2^32) real 0.
            fieldHash[i] = h == 0 ? 1u : h;
            var index = (int)(h & (uint)_mask);
            var part = _fieldParts[i];
            if ((part & ModelPart.Global) != 0)
            {
                global.Add(index, x);
            }

            if ((part & ModelPart.Campaign) != 0)
            {
                campaign.Add(index, x);
            }
        }

        var crosses = _crossFields.Length;
        for (var c = 0; c < crosses; c++)
        {
            var members = _crossFields[c];
            var h = fieldHash[members[0]];
            var h2 = fieldHash[members[1]];
            if (h == 0 || h2 == 0)
            {
                continue;
            }

            h = MurmurHash3.Hash32(h, h2, _seed);
            if (members.Length == 3)
            {
                var h3 = fieldHash[members[2]];
                if (h3 == 0)
                {
                    continue;
                }

                h = MurmurHash3.Hash32(h, h3, _seed);
            }

            var index = (int)(h & (uint)_mask);
            var part = _crossParts[c];
            if ((part & ModelPart.Global) != 0)
            {
                global.Add(index, 1f);
            }

            if ((part & ModelPart.Campaign) != 0)
            {
                campaign.Add(index, 1f);
            }
        }

        if (_campaignField >= 0 && row.IsPresent(_campaignField))
        {
            var key = row.Get(_campaignField);
            output.CampaignKey = CampaignKeyOf(key);
            output.HasCampaign = true;
            campaign.Add(_biasIndex, 1f);
        }
    }

    /// <summary>
    /// The most features <see cref="Encode"/> can put in <paramref name="part"/> for <paramref name="spec"/>: one
    /// per field and cross feeding that part, plus the bias (always in the global part; in the campaign part
    /// when the spec has a campaign field). An upper bound, reached when every field and cross is present.
    /// </summary>
    public static int MaxFeatures(FeatureSpec spec, ModelPart part)
    {
        var n = part == ModelPart.Global || spec.CampaignField is not null ? 1 : 0;
        foreach (var f in spec.Fields)
        {
            n += (f.Models & part) != 0 ? 1 : 0;
        }

        foreach (var c in spec.Crosses)
        {
            n += (c.Models & part) != 0 ? 1 : 0;
        }

        return n;
    }

    /// <summary>The 64-bit key of a campaign id (two independent MurmurHash3 seeds).</summary>
    public static ulong CampaignKeyOf(ReadOnlySpan<byte> campaignIdUtf8)
    {
        ulong lo = MurmurHash3.Hash32(campaignIdUtf8, 0x2545F491);
        ulong hi = MurmurHash3.Hash32(campaignIdUtf8, 0x9E3779B9);
        return (hi << 32) | lo;
    }

    /// <summary>
    /// Names the features of a row (for explain and debugging; allocates). Each entry gives the part, the
    /// readable name ("field=value" or "a=x*b=y"), the index and the value, in the order of <see cref="Encode"/>.
    /// </summary>
    public List<NamedFeature> Describe(RawRow row)
    {
        var list = new List<NamedFeature>();
        var encoded = new EncodedExample();
        Encode(row, encoded);
        list.Add(new NamedFeature(ModelPart.Global, "bias", _biasIndex, 1f));
        var names = new string?[_prefixes.Length];
        for (var i = 0; i < _prefixes.Length; i++)
        {
            if (_fieldHash[i] == 0)
            {
                continue;
            }

            var f = _spec.Fields[i];
            names[i] = f.Name + "=" + row.GetString(i);
            var value = 1f;
            var index = 0;
            switch (f.Kind)
            {
                case FieldKind.Numeric:
                    TryParseNumeric(row.Get(i), f.Transform, out value);
                    index = (int)(_numericHash[i] & (uint)_mask);
                    break;
                case FieldKind.Count:
                    index = (int)(HashCount(i, row.Get(i)) & (uint)_mask);
                    break;
                default:
                    index = (int)(HashValue(i, row.Get(i)) & (uint)_mask);
                    break;
            }

            if ((f.Models & ModelPart.Global) != 0)
            {
                list.Add(new NamedFeature(ModelPart.Global, names[i]!, index, value));
            }

            if ((f.Models & ModelPart.Campaign) != 0)
            {
                list.Add(new NamedFeature(ModelPart.Campaign, names[i]!, index, value));
            }
        }

        for (var c = 0; c < _crossFields.Length; c++)
        {
            var members = _crossFields[c];
            var present = true;
            foreach (var m in members)
            {
                present &= names[m] is not null;
            }

            if (!present)
            {
                continue;
            }

            var h = MurmurHash3.Hash32(_fieldHash[members[0]], _fieldHash[members[1]], _seed);
            var name = names[members[0]] + " x " + names[members[1]];
            if (members.Length == 3)
            {
                h = MurmurHash3.Hash32(h, _fieldHash[members[2]], _seed);
                name += " x " + names[members[2]];
            }

            var index = (int)(h & (uint)_mask);
            if ((_crossParts[c] & ModelPart.Global) != 0)
            {
                list.Add(new NamedFeature(ModelPart.Global, name, index, 1f));
            }

            if ((_crossParts[c] & ModelPart.Campaign) != 0)
            {
                list.Add(new NamedFeature(ModelPart.Campaign, name, index, 1f));
            }
        }

        if (encoded.HasCampaign)
        {
            list.Add(new NamedFeature(ModelPart.Campaign, "bias", _biasIndex, 1f));
        }

        return list;
    }

    /// <summary>
    /// MurmurHash3("field=value"), from the field's precomputed prefix state: no copy of the bytes. An 8-byte value
    /// (Criteo's categoricals are 8 hex digits) takes the straight-line <see cref="MurmurHash3.Hash32Of8"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint HashValue(int field, ReadOnlySpan<byte> value) =>
        value.Length == sizeof(ulong)
            ? MurmurHash3.Hash32Of8(in _prefixStates[field], BinaryPrimitives.ReadUInt64LittleEndian(value))
            : MurmurHash3.Hash32(in _prefixStates[field], value);

    /// <summary>
    /// The hash of "field=#bucket" for an integer count (the bucket of <see cref="CountBucket"/>), or of
    /// "field=value" when the value is not an integer. The hash of each non-negative bucket is computed once
    /// per field and cached; an optional minus and 1 to 18 digits are parsed inline (the values
    /// <see cref="Utf8Parser"/> accepts with the same result), anything else goes through it as before.
    /// </summary>
    private uint HashCount(int field, ReadOnlySpan<byte> value)
    {
        if (!TryParseShortInteger(value, out var x)
            && (!Utf8Parser.TryParse(value, out x, out var consumed) || consumed != value.Length))
        {
            return HashValue(field, value);
        }

        var bucket = (ulong)x < SmallCounts ? SmallCountBuckets[x] : CountBucket(x);
        if ((ulong)bucket >= CachedBuckets)
        {
            return HashBucket(field, bucket);
        }

        var cache = _countHashes[field] ??= new uint[CachedBuckets];
        var h = cache[bucket];
        if (h == 0)
        {
            // 0 marks "not computed yet"; a bucket whose hash really is 0 is recomputed each time, still right.
            h = HashBucket(field, bucket);
            cache[bucket] = h;
        }

        return h;
    }

    private uint HashBucket(int field, long bucket)
    {
        Span<byte> token = stackalloc byte[24];
        token[0] = (byte)'#';
        Utf8Formatter.TryFormat(bucket, token.Slice(1), out var written);
        return HashValue(field, token.Slice(0, written + 1));
    }

    /// <summary>An optional '-' then 1 to 18 ASCII digits (so no overflow), as a long; false for anything else.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryParseShortInteger(ReadOnlySpan<byte> value, out long x)
    {
        x = 0;
        var negative = !value.IsEmpty && value[0] == (byte)'-';
        var digits = negative ? value[1..] : value;
        if (digits.IsEmpty || digits.Length > 18)
        {
            return false;
        }

        long v = 0;
        foreach (var b in digits)
        {
            var d = (uint)(b - '0');
            if (d > 9)
            {
                return false;
            }

            v = (v * 10) + d;
        }

        x = negative ? -v : v;
        return true;
    }

    private static ushort[] BuildSmallCountBuckets()
    {
        var table = new ushort[SmallCounts];
        for (var x = 0; x < SmallCounts; x++)
        {
            table[x] = (ushort)CountBucket(x);
        }

        return table;
    }

    /// <summary>floor(ln(x)^2) when x &gt; 2, x otherwise (Juan et al., Criteo 2014 winning solution).</summary>
    public static long CountBucket(long x)
    {
        if (x <= 2)
        {
            return x;
        }

        var l = Math.Log(x);
        return (long)Math.Floor(l * l);
    }

    private static bool TryParseNumeric(ReadOnlySpan<byte> value, NumericTransform transform, out float x)
    {
        if (!Utf8Parser.TryParse(value, out double d, out var consumed) || consumed != value.Length || !double.IsFinite(d))
        {
            x = 0;
            return false;
        }

        if (transform == NumericTransform.Log1p)
        {
            d = Math.Sign(d) * Math.Log(1 + Math.Abs(d));
        }

        x = (float)d;
        return true;
    }
}

/// <summary>A feature with its readable name (see <see cref="FeatureEncoder.Describe"/>).</summary>
public readonly record struct NamedFeature(ModelPart Part, string Name, int Index, float Value);
