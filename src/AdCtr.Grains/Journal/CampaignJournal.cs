using System.Buffers.Binary;

namespace AdCtr.Grains.Journal;

/// <summary>
/// One entry of a campaign's example journal: the campaign's rows of one acknowledged batch, at journal positions
/// <see cref="FirstSeq"/> .. <see cref="FirstSeq"/> + <see cref="Count"/> - 1 of that campaign (positions count
/// examples, from 1, in the order the campaign learns them).
/// </summary>
public sealed record JournalEntry(long FirstSeq, int Count, byte[] Payload)
{
    public long LastSeq => FirstSeq + Count - 1;
}

/// <summary>
/// Reads a campaign's journal (the cluster's durable store of acknowledged examples: PostgreSQL). A campaign grain
/// replays its journal after its checkpoint when it activates, and reads the entries it missed when a learn call
/// arrives after a later one. Implementations throw <see cref="JournalUnavailableException"/> when the store cannot
/// be read.
/// </summary>
public interface ICampaignJournal
{
    /// <summary>The entries of <paramref name="campaignId"/> with <c>FirstSeq</c> in (<paramref name="afterSeq"/>, <paramref name="upToSeq"/>], in order.</summary>
    Task<IReadOnlyList<JournalEntry>> ReadAsync(string campaignId, long afterSeq, long upToSeq, CancellationToken cancellationToken);
}

/// <summary>The campaign journal (or checkpoint store) could not be read or written; nothing was acknowledged by the failed step.</summary>
[GenerateSerializer]
[Alias("adctr.journal-unavailable")]
public sealed class JournalUnavailableException : IOException
{
    public JournalUnavailableException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }

    public JournalUnavailableException()
    {
    }

    public JournalUnavailableException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// What campaign grains of this silo need for durability in a cluster: the journal (null on a single node, whose
/// durability is the local example log and snapshots) and how often a grain checkpoints its state.
/// </summary>
public sealed class CampaignDurability(ICampaignJournal? journal, long checkpointEvery)
{
    /// <summary>Single node: no journal, no checkpoints by the grains.</summary>
    public static CampaignDurability Local { get; } = new(null, long.MaxValue);

    public ICampaignJournal? Journal { get; } = journal;

    /// <summary>A grain writes a checkpoint once this many journaled examples were learned since its last one (and at deactivation).</summary>
    public long CheckpointEvery { get; } = checkpointEvery > 0 ? checkpointEvery : throw new ArgumentOutOfRangeException(nameof(checkpointEvery));
}

/// <summary>
/// The journal's payload of one entry: a campaign's rows of a batch, encoded (not the request's JSON), so that a grain
/// on any silo replays them without the feature spec. Little-endian: count, then per row label (f32), weight (f32),
/// timestamp (i64), campaign key (u64), flags (u8: has campaign), global count (i32) with indices (i32) and values
/// (f32), campaign count (i32) with indices and values.
/// </summary>
public static class CampaignJournalCodec
{
    private const byte HasCampaignFlag = 1;

    public static byte[] Encode(ExampleBatch batch, ReadOnlySpan<int> rows)
    {
        var size = 4;
        foreach (var i in rows)
        {
            size += 4 + 4 + 8 + 8 + 1 + 4 + (8 * batch.GlobalIndices(i).Length) + 4 + (8 * batch.CampaignIndices(i).Length);
        }

        var bytes = new byte[size];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, rows.Length);
        var at = 4;
        foreach (var i in rows)
        {
            BinaryPrimitives.WriteSingleLittleEndian(span[at..], batch.Label(i));
            BinaryPrimitives.WriteSingleLittleEndian(span[(at + 4)..], batch.Weight(i));
            BinaryPrimitives.WriteInt64LittleEndian(span[(at + 8)..], batch.Timestamp(i));
            BinaryPrimitives.WriteUInt64LittleEndian(span[(at + 16)..], batch.CampaignKey(i));
            span[at + 24] = batch.HasCampaign(i) ? HasCampaignFlag : (byte)0;
            at += 25;
            at = WritePart(span, at, batch.GlobalIndices(i), batch.GlobalValues(i));
            at = WritePart(span, at, batch.CampaignIndices(i), batch.CampaignValues(i));
        }

        return bytes;
    }

    /// <summary>Appends the rows of an encoded entry to <paramref name="batch"/>; returns how many. <see cref="InvalidDataException"/> on bad bytes.</summary>
    public static int Decode(ReadOnlySpan<byte> payload, ExampleBatch batch)
    {
        try
        {
            var count = BinaryPrimitives.ReadInt32LittleEndian(payload);
            if (count < 0 || count > payload.Length / 33)
            {
                throw new InvalidDataException("journal entry claims " + count + " rows in " + payload.Length + " bytes");
            }

            var at = 4;
            for (var r = 0; r < count; r++)
            {
                var label = BinaryPrimitives.ReadSingleLittleEndian(payload[at..]);
                var weight = BinaryPrimitives.ReadSingleLittleEndian(payload[(at + 4)..]);
                var time = BinaryPrimitives.ReadInt64LittleEndian(payload[(at + 8)..]);
                var key = BinaryPrimitives.ReadUInt64LittleEndian(payload[(at + 16)..]);
                var hasCampaign = (payload[at + 24] & HasCampaignFlag) != 0;
                at += 25;
                var (gi, gv) = ReadPart(payload, ref at);
                var (ci, cv) = ReadPart(payload, ref at);
                batch.Add(gi, gv, ci, cv, label, weight, time, key, hasCampaign);
            }

            if (at != payload.Length)
            {
                throw new InvalidDataException("journal entry has " + (payload.Length - at) + " bytes after its last row");
            }

            return count;
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException("journal entry is truncated", e);
        }
    }

    private static int WritePart(Span<byte> span, int at, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        BinaryPrimitives.WriteInt32LittleEndian(span[at..], indices.Length);
        at += 4;
        for (var k = 0; k < indices.Length; k++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], indices[k]);
            BinaryPrimitives.WriteSingleLittleEndian(span[(at + 4)..], values[k]);
            at += 8;
        }

        return at;
    }

    private static (int[] Indices, float[] Values) ReadPart(ReadOnlySpan<byte> payload, ref int at)
    {
        var n = BinaryPrimitives.ReadInt32LittleEndian(payload[at..]);
        at += 4;
        if (n < 0 || n > (payload.Length - at) / 8)
        {
            throw new InvalidDataException("journal entry claims " + n + " features with " + (payload.Length - at) + " bytes left");
        }

        var indices = new int[n];
        var values = new float[n];
        for (var k = 0; k < n; k++)
        {
            indices[k] = BinaryPrimitives.ReadInt32LittleEndian(payload[at..]);
            values[k] = BinaryPrimitives.ReadSingleLittleEndian(payload[(at + 4)..]);
            at += 8;
        }

        return (indices, values);
    }
}
