using AdCtr.Learning.Ftrl;

namespace AdCtr.Grains;

/// <summary>State of one campaign: its GLMix random-effect model and its traffic and quality statistics.</summary>
public sealed class CampaignState
{
    public string Id { get; set; } = "";

    public SparseFtrlModel? Model { get; set; }

    public ProgressiveStats Stats { get; set; } = new();

    /// <summary>
    /// In a cluster: the campaign's journal position this state holds (every journaled example up to it is learned,
    /// none after). Stored beside the compact bytes by the PostgreSQL grain storage, not inside them; 0 on a single node.
    /// </summary>
    public long JournalSeq { get; set; }

    /// <summary>
    /// In a cluster: this state encoded (<see cref="CampaignStateCodec"/>) at <see cref="JournalSeq"/>, taken by the grain
    /// in the turn that starts a checkpoint, so that slices learned while the checkpoint is being written cannot reach
    /// it. The PostgreSQL grain storage writes these bytes when set; null otherwise (it encodes the state itself).
    /// </summary>
    public byte[]? Encoded { get; set; }
}

/// <summary>
/// The compact campaign-state format: statistics, FTRL parameters, then 12 bytes per stored coordinate
/// (index, z, n) in index order, so the encoding of a model is canonical. Used by the grain storage, by snapshots (a copy of an active grain's state) and by reload.
/// </summary>
public static class CampaignStateCodec
{
    private const int FormatVersion = 1;

    public static byte[] Encode(CampaignState state)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer))
        {
            w.Write(FormatVersion);
            w.Write(state.Id);
            WriteStats(w, state.Stats);
            var model = state.Model;
            w.Write(model is not null);
            if (model is not null)
            {
                var p = model.Parameters;
                w.Write(p.Alpha);
                w.Write(p.Beta);
                w.Write(p.L1);
                w.Write(p.L2);
                w.Write(model.AdmissionProbability);
                w.Write(model.Coordinates);

                // In index order, so that equal models encode to equal bytes whatever their tables' slot layout.
                var coordinates = new List<(int Index, float Z, float N)>((int)model.Coordinates);
                model.ForEach(ref coordinates, static (ref List<(int Index, float Z, float N)> list, int index, float z, float n) => list.Add((index, z, n)));
                coordinates.Sort(static (a, b) => a.Index.CompareTo(b.Index));
                foreach (var (index, z, n) in coordinates)
                {
                    w.Write(index);
                    w.Write(z);
                    w.Write(n);
                }
            }
        }

        return buffer.ToArray();
    }

    /// <summary>Decodes <see cref="Encode"/>'s bytes; <see cref="InvalidDataException"/> when they are not such bytes.</summary>
    public static CampaignState Decode(ReadOnlySpan<byte> bytes)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes.ToArray()));
            var version = r.ReadInt32();
            if (version != FormatVersion)
            {
                throw new InvalidDataException("campaign state format " + version + " is not supported");
            }

            var state = new CampaignState { Id = r.ReadString(), Stats = ReadStats(r) };
            if (r.ReadBoolean())
            {
                var parameters = new FtrlParameters(r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble());
                var admission = r.ReadDouble();
                var count = r.ReadInt64();
                if (count < 0 || count > (bytes.Length / 12) + 1)
                {
                    throw new InvalidDataException("campaign state claims " + count + " coordinates in " + bytes.Length + " bytes");
                }

                var model = new SparseFtrlModel(parameters, CapacityFor(count), admission);
                for (long i = 0; i < count; i++)
                {
                    model.SetState(r.ReadInt32(), r.ReadSingle(), r.ReadSingle());
                }

                state.Model = model;
            }

            return state;
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentException)
        {
            throw new InvalidDataException("campaign state is truncated or malformed: " + e.Message, e);
        }
    }

    /// <summary>Reads only the statistics and the number of coordinates of encoded state (the storage index keeps them).</summary>
    public static (ProgressiveStats Stats, long Coordinates) DecodeHeader(ReadOnlySpan<byte> bytes)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes.ToArray()));
            if (r.ReadInt32() != FormatVersion)
            {
                throw new InvalidDataException("campaign state format is not supported");
            }

            _ = r.ReadString();
            var stats = ReadStats(r);
            if (!r.ReadBoolean())
            {
                return (stats, 0);
            }

            for (var i = 0; i < 5; i++)
            {
                _ = r.ReadDouble();
            }

            return (stats, r.ReadInt64());
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("campaign state is truncated", e);
        }
    }

    /// <summary>
    /// The table size a campaign model reaches by learning <paramref name="coordinates"/> coordinates from its initial 16
    /// slots (it doubles before an insert would pass 70% load), so a decoded model has the live one's size.
    /// </summary>
    private static int CapacityFor(long coordinates)
    {
        var slots = 16;
        while (coordinates > slots * 0.7f && slots < 1 << 28)
        {
            slots *= 2;
        }

        return slots;
    }

    public static void WriteStats(BinaryWriter w, ProgressiveStats s)
    {
        w.Write(s.Examples);
        w.Write(s.Weight);
        w.Write(s.Clicks);
        w.Write(s.SumPredicted);
        w.Write(s.LogLossSum);
        w.Write(s.LastUpdateUnixMs);
    }

    public static ProgressiveStats ReadStats(BinaryReader r) => new()
    {
        Examples = r.ReadInt64(),
        Weight = r.ReadDouble(),
        Clicks = r.ReadDouble(),
        SumPredicted = r.ReadDouble(),
        LogLossSum = r.ReadDouble(),
        LastUpdateUnixMs = r.ReadInt64(),
    };
}
