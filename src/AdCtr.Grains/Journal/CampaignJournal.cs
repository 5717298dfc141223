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
/// durability is the local example log and snapshots), how often a grain checkpoints its state, and how long a slice
/// that arrives ahead of its predecessors waits for their calls before the grain reads them from the journal.
/// </summary>
public sealed class CampaignDurability(ICampaignJournal? journal, long checkpointEvery, TimeSpan? gapWait = null, TimeProvider? time = null)
{
    private long _slicesAhead;
    private long _gapReads;

    /// <summary>Single node: no journal, no checkpoints by the grains.</summary>
    public static CampaignDurability Local { get; } = new(null, long.MaxValue);

    public ICampaignJournal? Journal { get; } = journal;

    /// <summary>A grain writes a checkpoint once this many journaled examples were learned since its last one (and at deactivation).</summary>
    public long CheckpointEvery { get; } = checkpointEvery > 0 ? checkpointEvery : throw new ArgumentOutOfRangeException(nameof(checkpointEvery));

    /// <summary>
    /// How long a slice that arrives ahead of a position the grain has not learned waits for the calls of the slices
    /// before it (usually in flight from another silo) before the grain reads the missing ones from the journal. Zero
    /// reads at once. Default 250 ms.
    /// </summary>
    public TimeSpan GapWait { get; } = gapWait is { } wait && wait >= TimeSpan.Zero ? wait : gapWait is null ? TimeSpan.FromMilliseconds(250) : throw new ArgumentOutOfRangeException(nameof(gapWait));

    /// <summary>The clock of <see cref="GapWait"/>.</summary>
    public TimeProvider Time { get; } = time ?? TimeProvider.System;

    /// <summary>Slices that arrived ahead of their predecessors and waited (this silo, since start).</summary>
    public long SlicesAhead => Interlocked.Read(ref _slicesAhead);

    /// <summary>Journal reads of grains whose wait ran out, or that were asked to sync (this silo, since start); activations' replays not counted.</summary>
    public long GapReads => Interlocked.Read(ref _gapReads);

    /// <summary>Raised (on the grain's turn) when a slice starts waiting for its predecessors: the campaign and the slice's first position.</summary>
    public event Action<string, long>? SliceWaiting;

    internal void OnSliceAhead(string campaignId, long firstSeq)
    {
        Interlocked.Increment(ref _slicesAhead);
        SliceWaiting?.Invoke(campaignId, firstSeq);
    }

    internal void OnGapRead() => Interlocked.Increment(ref _gapReads);
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

    /// <summary>
    /// An empty batch sized for the rows of <paramref name="payload"/> (from its row count, and its length as the bound of
    /// its features: 8 bytes each), so decoding it allocates no more than the entry's size.
    /// </summary>
    public static ExampleBatch NewBatchFor(ReadOnlySpan<byte> payload)
    {
        var rows = payload.Length >= 4 ? Math.Clamp(BinaryPrimitives.ReadInt32LittleEndian(payload), 1, Math.Max(1, payload.Length / 33)) : 1;
        var features = Math.Max(1, (payload.Length - 4 - (33 * rows)) / 8);
        return new ExampleBatch(rows, features, features);
    }

    /// <summary>Every row of <paramref name="batch"/>, in order.</summary>
    public static byte[] EncodeAll(ExampleBatch batch)
    {
        var rows = batch.Count <= 1024 ? stackalloc int[batch.Count] : new int[batch.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = i;
        }

        return Encode(batch, rows);
    }

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
        // The pairs of a part are interleaved on the wire; rows are copied into the batch through these (grown as needed).
        var indices = new int[64];
        var values = new float[64];
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
                var g = ReadPart(payload, ref at, ref indices, ref values, 0);
                var c = ReadPart(payload, ref at, ref indices, ref values, g);
                batch.Add(indices.AsSpan(0, g), values.AsSpan(0, g), indices.AsSpan(g, c), values.AsSpan(g, c), label, weight, time, key, hasCampaign);
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

    /// <summary>Reads one part's pairs into <paramref name="indices"/> and <paramref name="values"/> from <paramref name="offset"/> on; returns how many.</summary>
    private static int ReadPart(ReadOnlySpan<byte> payload, ref int at, ref int[] indices, ref float[] values, int offset)
    {
        var n = BinaryPrimitives.ReadInt32LittleEndian(payload[at..]);
        at += 4;
        if (n < 0 || n > (payload.Length - at) / 8)
        {
            throw new InvalidDataException("journal entry claims " + n + " features with " + (payload.Length - at) + " bytes left");
        }

        if (offset + n > indices.Length)
        {
            var size = Math.Max(indices.Length * 2, offset + n);
            Array.Resize(ref indices, size);
            Array.Resize(ref values, size);
        }

        for (var k = 0; k < n; k++)
        {
            indices[offset + k] = BinaryPrimitives.ReadInt32LittleEndian(payload[at..]);
            values[offset + k] = BinaryPrimitives.ReadSingleLittleEndian(payload[(at + 4)..]);
            at += 8;
        }

        return n;
    }
}
