using System.Buffers.Binary;
using System.Text;
using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Hashing;

namespace AdCtr.Learning.Snapshots;

/// <summary>
/// The binary snapshot format, version 1, little-endian:
/// <code>
/// header  : magic "ADCTRSNP" | u32 format version | u32 hash function id | u32 hash seed | u64 spec fingerprint
///           | i64 log position | i64 created (unix ms) | i64 model version
/// global  : FTRL parameters (4 x f64) | u32 bits | u64 count | count x (u32 index, f32 z, f32 n)
/// campaigns: u32 count | per campaign: u64 key | string id | FTRL parameters | f64 admission | u64 count | entries
/// extensions: u32 count | per extension: string name | u32 length | bytes
/// trailer : u32 CRC32C of every byte before it | magic "ADCTREND"
/// </code>
/// Strings are u32 byte length + UTF-8. Only coordinates with state are written. Reading verifies the
/// whole file (length, magic, version, CRC, hash function, spec fingerprint) before building anything, so a
/// damaged or mismatched file is rejected with a <see cref="SnapshotFormatException"/> and never half-loaded.
/// </summary>
public static class SnapshotFormat
{
    public const int FormatVersion = 1;
    private const int TrailerBytes = 12;
    private static ReadOnlySpan<byte> Magic => "ADCTRSNP"u8;
    private static ReadOnlySpan<byte> EndMagic => "ADCTREND"u8;

    public static void Write(Stream output, ModelSnapshot snapshot)
    {
        var w = new CrcWriter(output);
        w.Bytes(Magic);
        w.U32(FormatVersion);
        w.U32((uint)snapshot.HashFunctionId);
        w.U32(snapshot.HashSeed);
        w.U64(snapshot.SpecFingerprint);
        w.I64(snapshot.LogPosition);
        w.I64(snapshot.CreatedUnixMs);
        w.I64(snapshot.Version);

        var global = snapshot.Global;
        WriteParameters(w, global.Parameters);
        w.U32((uint)global.Bits);
        var state = global.State;
        ulong count = 0;
        for (var i = 0; i < state.Length; i += 2)
        {
            if (state[i] != 0f || state[i + 1] != 0f)
            {
                count++;
            }
        }

        w.U64(count);
        for (var i = 0; i < state.Length; i += 2)
        {
            if (state[i] != 0f || state[i + 1] != 0f)
            {
                w.U32((uint)(i >> 1));
                w.F32(state[i]);
                w.F32(state[i + 1]);
            }
        }

        w.U32((uint)snapshot.Campaigns.Count);
        foreach (var campaign in snapshot.Campaigns)
        {
            w.U64(campaign.Key);
            w.String(campaign.Id);
            WriteParameters(w, campaign.Model.Parameters);
            w.F64(campaign.Model.AdmissionProbability);
            w.U64((ulong)campaign.Model.Coordinates);
            var writer = w;
            campaign.Model.ForEach(ref writer, static (ref CrcWriter cw, int index, float z, float n) =>
            {
                cw.U32((uint)index);
                cw.F32(z);
                cw.F32(n);
            });
        }

        w.U32((uint)snapshot.Extensions.Count);
        foreach (var (name, bytes) in snapshot.Extensions.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            w.String(name);
            w.U32((uint)bytes.Length);
            w.Bytes(bytes);
        }

        var crc = w.DrainAndGetCrc();
        w.U32(crc);
        w.Bytes(EndMagic);
        w.Flush();
    }

    /// <summary>Reads and verifies a snapshot; <paramref name="spec"/> must be the one it was trained under.</summary>
    public static ModelSnapshot Read(Stream input, FeatureSpec spec)
    {
        byte[] data;
        using (var copy = new MemoryStream())
        {
            input.CopyTo(copy);
            data = copy.ToArray();
        }

        return Read(data, spec);
    }

    public static ModelSnapshot Read(byte[] data, FeatureSpec spec)
    {
        if (data.Length < Magic.Length + 4 + TrailerBytes)
        {
            throw new SnapshotFormatException($"snapshot is truncated ({data.Length} bytes)");
        }

        if (!data.AsSpan(0, 8).SequenceEqual(Magic))
        {
            throw new SnapshotFormatException("not an AdCtr snapshot (bad magic)");
        }

        var version = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(8));
        if (version != FormatVersion)
        {
            throw new SnapshotFormatException($"unsupported snapshot format version {version} (this build reads {FormatVersion})");
        }

        if (!data.AsSpan(data.Length - 8).SequenceEqual(EndMagic))
        {
            throw new SnapshotFormatException("snapshot is truncated (no end marker)");
        }

        var body = data.AsSpan(0, data.Length - TrailerBytes);
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(data.Length - TrailerBytes));
        var actual = Crc32C.Compute(body);
        if (stored != actual)
        {
            throw new SnapshotFormatException($"snapshot is corrupt (CRC32C {actual:X8}, expected {stored:X8})");
        }

        var r = new Reader(data, data.Length - TrailerBytes);
        r.Skip(12);
        var hashFunction = (int)r.U32();
        var seed = r.U32();
        var fingerprint = r.U64();
        if (hashFunction != MurmurHash3.FunctionId)
        {
            throw new SnapshotFormatException($"snapshot uses hash function {hashFunction}, this build uses {MurmurHash3.FunctionId} (MurmurHash3 x86_32)");
        }

        if (seed != spec.HashSeed)
        {
            throw new SnapshotFormatException($"snapshot hash seed {seed} differs from the feature spec's {spec.HashSeed}");
        }

        if (fingerprint != spec.Fingerprint())
        {
            throw new SnapshotFormatException($"snapshot was trained under another feature spec (fingerprint {fingerprint:X16}, current '{spec.Name}' is {spec.Fingerprint():X16})");
        }

        var logPosition = r.I64();
        var created = r.I64();
        var modelVersion = r.I64();

        var globalParameters = ReadParameters(ref r);
        var bits = (int)r.U32();
        if (bits != spec.Bits)
        {
            throw new SnapshotFormatException($"snapshot has {bits} bits, the spec {spec.Bits}");
        }

        var global = new DenseFtrlModel(bits, globalParameters);
        var state = global.State;
        var count = r.U64();
        if (count > (ulong)global.Dimension)
        {
            throw new SnapshotFormatException($"snapshot global model claims {count} coordinates for {global.Dimension} slots");
        }

        for (ulong k = 0; k < count; k++)
        {
            var index = r.U32();
            if (index >= (uint)global.Dimension)
            {
                throw new SnapshotFormatException($"snapshot global index {index} is out of range");
            }

            state[(int)index * 2] = r.F32();
            state[((int)index * 2) + 1] = r.F32();
        }

        var campaignCount = r.U32();
        var campaigns = new List<CampaignSnapshot>((int)Math.Min(campaignCount, 1_000_000));
        for (uint c = 0; c < campaignCount; c++)
        {
            var key = r.U64();
            var id = r.String();
            var parameters = ReadParameters(ref r);
            var admission = r.F64();
            if (!(admission > 0 && admission <= 1))
            {
                throw new SnapshotFormatException($"campaign '{id}' has admission probability {admission}");
            }

            var entries = r.U64();
            if (entries > (ulong)(r.Remaining / 12))
            {
                throw new SnapshotFormatException($"campaign '{id}' claims {entries} coordinates, more than the file holds");
            }

            var model = new SparseFtrlModel(parameters, (int)Math.Min(entries * 2, 1 << 28), admission, key);
            for (ulong k = 0; k < entries; k++)
            {
                var index = r.U32();
                if (index > int.MaxValue)
                {
                    throw new SnapshotFormatException($"campaign '{id}' index {index} is out of range");
                }

                model.SetState((int)index, r.F32(), r.F32());
            }

            campaigns.Add(new CampaignSnapshot(key, id, model));
        }

        var extensionCount = r.U32();
        var extensions = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        for (uint e = 0; e < extensionCount; e++)
        {
            var name = r.String();
            var length = r.U32();
            extensions[name] = r.Bytes((int)Math.Min(length, int.MaxValue)).ToArray();
        }

        if (r.Remaining != 0)
        {
            throw new SnapshotFormatException($"snapshot has {r.Remaining} unexpected bytes before its trailer");
        }

        return new ModelSnapshot
        {
            HashSeed = seed,
            HashFunctionId = hashFunction,
            SpecFingerprint = fingerprint,
            LogPosition = logPosition,
            CreatedUnixMs = created,
            Version = modelVersion,
            Global = global,
            Campaigns = campaigns,
            Extensions = extensions,
        };
    }

    private static void WriteParameters(CrcWriter w, FtrlParameters p)
    {
        w.F64(p.Alpha);
        w.F64(p.Beta);
        w.F64(p.L1);
        w.F64(p.L2);
    }

    private static FtrlParameters ReadParameters(ref Reader r)
    {
        var p = new FtrlParameters(r.F64(), r.F64(), r.F64(), r.F64());
        try
        {
            p.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new SnapshotFormatException("snapshot holds invalid FTRL parameters: " + e.Message);
        }

        return p;
    }

    /// <summary>Buffered writer that keeps a running CRC32C of everything written.</summary>
    private sealed class CrcWriter(Stream output)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _used;

        private uint _crc;

        /// <summary>Writes out the buffer and returns the CRC32C of every byte written so far.</summary>
        public uint DrainAndGetCrc()
        {
            Drain();
            return _crc;
        }

        public void U32(uint v) => BinaryPrimitives.WriteUInt32LittleEndian(Reserve(4), v);

        public void U64(ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(Reserve(8), v);

        public void I64(long v) => BinaryPrimitives.WriteInt64LittleEndian(Reserve(8), v);

        public void F32(float v) => BinaryPrimitives.WriteSingleLittleEndian(Reserve(4), v);

        public void F64(double v) => BinaryPrimitives.WriteDoubleLittleEndian(Reserve(8), v);

        public void String(string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            U32((uint)bytes.Length);
            Bytes(bytes);
        }

        public void Bytes(ReadOnlySpan<byte> bytes)
        {
            while (bytes.Length > 0)
            {
                var n = Math.Min(bytes.Length, _buffer.Length - _used);
                if (n == 0)
                {
                    Drain();
                    continue;
                }

                bytes.Slice(0, n).CopyTo(_buffer.AsSpan(_used));
                _used += n;
                bytes = bytes.Slice(n);
            }
        }

        public void Flush()
        {
            Drain();
            output.Flush();
        }

        private Span<byte> Reserve(int n)
        {
            if (_used + n > _buffer.Length)
            {
                Drain();
            }

            var span = _buffer.AsSpan(_used, n);
            _used += n;
            return span;
        }

        private void Drain()
        {
            _crc = Crc32C.Append(_crc, _buffer.AsSpan(0, _used));
            output.Write(_buffer, 0, _used);
            _used = 0;
        }
    }

    private ref struct Reader(byte[] data, int end)
    {
        private int _pos;

        public readonly int Remaining => end - _pos;

        public void Skip(int n) => Take(n);

        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

        public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public float F32() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

        public double F64() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

        public string String()
        {
            var length = U32();
            if (length > 1 << 20)
            {
                throw new SnapshotFormatException($"snapshot string of {length} bytes is implausible");
            }

            return Encoding.UTF8.GetString(Take((int)length));
        }

        public ReadOnlySpan<byte> Bytes(int n) => Take(n);

        private ReadOnlySpan<byte> Take(int n)
        {
            if (n < 0 || n > end - _pos)
            {
                throw new SnapshotFormatException($"snapshot is truncated at byte {_pos} (needs {n} more)");
            }

            var span = data.AsSpan(_pos, n);
            _pos += n;
            return span;
        }
    }
}
