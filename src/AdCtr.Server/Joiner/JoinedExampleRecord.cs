using System.Buffers.Binary;
using System.Text;
using AdCtr.Learning.Features;

namespace AdCtr.Server.Joiner;

/// <summary>
/// How a joined example (from <c>/v1/events</c>) is stored in the example log. The joiner holds the encoded
/// features of the served prediction, not the request's raw fields, so the record is the encoded form, compact
/// and binary, little-endian:
/// <code>
/// u8  kind = 0xA1 (a JSON line of /v1/examples always starts with '{' or whitespace, so the first byte tells the kinds apart)
/// u64 feature-spec fingerprint (replay refuses records encoded under another spec)
/// f32 label | f32 weight | i64 timestamp (Unix ms)
/// u8  flags (bit 0: has campaign) | u64 campaign key | u16 campaign id length | campaign id (UTF-8)
/// u16 global count | u16 campaign count | global count x (i32 index, f32 value) | campaign count x (i32 index, f32 value)
/// </code>
/// The cost of this choice: such a record cannot be re-encoded under a changed feature spec (an NDJSON line can);
/// it is the price of not keeping every served request's raw fields in memory for the attribution window.
/// </summary>
internal static class JoinedExampleRecord
{
    public const byte Kind = 0xA1;
    private const int FixedBytes = 1 + 8 + 4 + 4 + 8 + 1 + 8 + 2 + 2 + 2;

    /// <summary>Bytes needed to encode an example with these counts.</summary>
    public static int Size(int campaignIdBytes, int globalCount, int campaignCount) => FixedBytes + campaignIdBytes + (8 * (globalCount + campaignCount));

    /// <summary>Writes one record into <paramref name="destination"/> (of at least <see cref="Size"/> bytes); returns its length.</summary>
    public static int Write(
        Span<byte> destination,
        ulong specFingerprint,
        float label,
        float weight,
        long timestampMs,
        bool hasCampaign,
        ulong campaignKey,
        ReadOnlySpan<byte> campaignId,
        ReadOnlySpan<int> globalIndices,
        ReadOnlySpan<float> globalValues,
        ReadOnlySpan<int> campaignIndices,
        ReadOnlySpan<float> campaignValues)
    {
        var d = destination;
        d[0] = Kind;
        BinaryPrimitives.WriteUInt64LittleEndian(d[1..], specFingerprint);
        BinaryPrimitives.WriteSingleLittleEndian(d[9..], label);
        BinaryPrimitives.WriteSingleLittleEndian(d[13..], weight);
        BinaryPrimitives.WriteInt64LittleEndian(d[17..], timestampMs);
        d[25] = hasCampaign ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt64LittleEndian(d[26..], campaignKey);
        BinaryPrimitives.WriteUInt16LittleEndian(d[34..], checked((ushort)campaignId.Length));
        campaignId.CopyTo(d[36..]);
        var at = 36 + campaignId.Length;
        BinaryPrimitives.WriteUInt16LittleEndian(d[at..], checked((ushort)globalIndices.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(d[(at + 2)..], checked((ushort)campaignIndices.Length));
        at += 4;
        at = WritePairs(d, at, globalIndices, globalValues);
        return WritePairs(d, at, campaignIndices, campaignValues);
    }

    /// <summary>
    /// Decodes a record into <paramref name="x"/>; returns the campaign id (null without a campaign) or throws
    /// <see cref="InvalidDataException"/> when the record is malformed or of another feature spec.
    /// </summary>
    public static string? Read(ReadOnlySpan<byte> record, ulong specFingerprint, EncodedExample x, out float label, out float weight, out long timestampMs)
    {
        if (record.Length < FixedBytes || record[0] != Kind)
        {
            throw new InvalidDataException("not a joined-example record");
        }

        if (BinaryPrimitives.ReadUInt64LittleEndian(record[1..]) != specFingerprint)
        {
            throw new InvalidDataException("joined-example record encoded under another feature spec");
        }

        label = BinaryPrimitives.ReadSingleLittleEndian(record[9..]);
        weight = BinaryPrimitives.ReadSingleLittleEndian(record[13..]);
        timestampMs = BinaryPrimitives.ReadInt64LittleEndian(record[17..]);
        var hasCampaign = record[25] != 0;
        var key = BinaryPrimitives.ReadUInt64LittleEndian(record[26..]);
        var idLength = BinaryPrimitives.ReadUInt16LittleEndian(record[34..]);
        if (record.Length < FixedBytes + idLength)
        {
            throw new InvalidDataException("joined-example record is truncated");
        }

        var id = hasCampaign ? Encoding.UTF8.GetString(record.Slice(36, idLength)) : null;
        var at = 36 + idLength;
        var globalCount = BinaryPrimitives.ReadUInt16LittleEndian(record[at..]);
        var campaignCount = BinaryPrimitives.ReadUInt16LittleEndian(record[(at + 2)..]);
        at += 4;
        if (record.Length != at + (8 * (globalCount + campaignCount)))
        {
            throw new InvalidDataException("joined-example record has the wrong length");
        }

        x.Clear();
        x.HasCampaign = hasCampaign;
        x.CampaignKey = key;
        at = ReadPairs(record, at, globalCount, x.Global);
        ReadPairs(record, at, campaignCount, x.Campaign);
        return id;
    }

    private static int WritePairs(Span<byte> d, int at, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        for (var k = 0; k < indices.Length; k++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(d[at..], indices[k]);
            BinaryPrimitives.WriteSingleLittleEndian(d[(at + 4)..], values[k]);
            at += 8;
        }

        return at;
    }

    private static int ReadPairs(ReadOnlySpan<byte> record, int at, int count, FeatureVector v)
    {
        for (var k = 0; k < count; k++)
        {
            v.Add(BinaryPrimitives.ReadInt32LittleEndian(record[at..]), BinaryPrimitives.ReadSingleLittleEndian(record[(at + 4)..]));
            at += 8;
        }

        return at;
    }
}
