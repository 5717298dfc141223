using System.Text;
using AdCtr.Learning.Calibration;
using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Snapshots;
using AdCtr.Server.Model;

namespace AdCtr.Server.Durability;

/// <summary>
/// Copies the engine's whole model into a <see cref="ModelSnapshot"/> and back: the global model, every campaign
/// model (active grains read in place, deactivated ones from <see cref="CampaignStateStore"/>), and as extensions
/// the campaign statistics, the engine's counters and the calibrator.
/// </summary>
internal static class ModelCheckpoint
{
    public const string CampaignStatsExtension = "adctr.server.campaign-stats";
    public const string EngineExtension = "adctr.server.engine";
    public const string CalibratorExtension = "adctr.server.calibrator";

    /// <summary>
    /// Captures the model. Call it with ingestion quiesced (<see cref="IngestionGate.QuiesceAsync"/>): no write turn
    /// runs, so the copy holds exactly the examples learned so far. Copies the global table (one memcpy) and the
    /// campaign models, so the caller can release ingestion before writing the file.
    /// </summary>
    public static ModelSnapshot Capture(CtrEngine engine, long logPosition)
    {
        var global = new DenseFtrlModel(engine.Global.Bits, engine.Global.Parameters);
        global.CopyFrom(engine.Global);
        var stored = new Dictionary<string, CampaignState>(StringComparer.Ordinal);
        foreach (var state in engine.Store.Entries())
        {
            stored[state.Id] = state;
        }

        var campaigns = new List<CampaignSnapshot>();
        var stats = new List<(string Id, ProgressiveStats Stats)>();
        foreach (var id in engine.CampaignIds())
        {
            var grain = engine.Runtime.GetGrain<CampaignGrain>(id);
            CampaignState state;
            if (!grain.IsActive && stored.TryGetValue(id, out var fromStore))
            {
                state = fromStore;
            }
            else
            {
                // A copy through the store's encoding: the live table keeps serving while the file is written.
                state = CampaignStateStore.Decode(grain.Read(0, static (g, _) => CampaignStateStore.Encode(new CampaignState { Id = g.GetPrimaryKeyString(), Model = g.Model, Stats = g.Statistics })));
            }

            if (state.Model is null)
            {
                continue;
            }

            campaigns.Add(new CampaignSnapshot(FeatureEncoder.CampaignKeyOf(Encoding.UTF8.GetBytes(id)), id, state.Model));
            stats.Add((id, state.Stats));
        }

        return new ModelSnapshot
        {
            HashSeed = engine.Spec.HashSeed,
            SpecFingerprint = engine.Spec.Fingerprint(),
            LogPosition = logPosition,
            CreatedUnixMs = engine.Time.GetUtcNow().ToUnixTimeMilliseconds(),
            Version = engine.ExamplesLearned,
            Global = global,
            Campaigns = campaigns,
            Extensions = new Dictionary<string, byte[]>(StringComparer.Ordinal)
            {
                [CampaignStatsExtension] = EncodeCampaignStats(stats),
                [EngineExtension] = EncodeEngine(engine),
                [CalibratorExtension] = EncodeCalibrator(engine.Calibration.Current),
            },
        };
    }

    /// <summary>
    /// Makes the engine's model the snapshot's. With ingestion quiesced. Active campaign grains get the snapshot's
    /// model through a write turn; the others through the store (read at their next activation). Campaigns the
    /// snapshot does not know restart empty.
    /// </summary>
    public static async Task RestoreAsync(CtrEngine engine, ModelSnapshot snapshot)
    {
        engine.Global.CopyFrom(snapshot.Global);
        var stats = snapshot.Extensions.TryGetValue(CampaignStatsExtension, out var statsBytes) ? DecodeCampaignStats(statsBytes) : [];
        var restored = new List<CampaignState>(snapshot.Campaigns.Count);
        var inSnapshot = new HashSet<string>(StringComparer.Ordinal);
        foreach (var campaign in snapshot.Campaigns)
        {
            var state = new CampaignState { Id = campaign.Id, Model = campaign.Model, Stats = stats.GetValueOrDefault(campaign.Id) ?? new ProgressiveStats() };
            engine.Store.Put(state);
            engine.RegisterCampaign(campaign.Key, campaign.Id);
            inSnapshot.Add(campaign.Id);
            restored.Add(state);
        }

        foreach (var id in engine.CampaignIds())
        {
            if (!inSnapshot.Contains(id))
            {
                var empty = new CampaignState { Id = id, Model = engine.NewCampaignModel(id), Stats = new ProgressiveStats() };
                engine.Store.Put(empty);
                restored.Add(empty);
            }
        }

        foreach (var state in restored)
        {
            var grain = engine.Runtime.GetGrain<CampaignGrain>(state.Id);
            if (grain.IsActive)
            {
                // The store keeps its own copy; the live grain gets a separate one.
                var copy = CampaignStateStore.Decode(CampaignStateStore.Encode(state));
                await grain.InvokeAsync(copy, static (g, s) =>
                {
                    g.Restore(s.Model!, s.Stats);
                    return ValueTask.FromResult(true);
                }).ConfigureAwait(false);
            }
        }

        if (snapshot.Extensions.TryGetValue(EngineExtension, out var engineBytes))
        {
            DecodeEngine(engine, engineBytes);
        }
        else
        {
            engine.SetExamplesLearned(snapshot.Version);
            engine.RestoreUncampaigned(new ProgressiveStats());
        }

        if (snapshot.Extensions.TryGetValue(CalibratorExtension, out var calibratorBytes))
        {
            engine.Calibration.Set(DecodeCalibrator(calibratorBytes));
        }
    }

    internal static byte[] EncodeCalibrator(ICalibrator calibrator)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer))
        {
            switch (calibrator)
            {
                case IsotonicCalibrator isotonic:
                    w.Write((byte)1);
                    w.Write(isotonic.Centres.Length);
                    foreach (var c in isotonic.Centres)
                    {
                        w.Write(c);
                    }

                    foreach (var v in isotonic.Values)
                    {
                        w.Write(v);
                    }

                    break;
                case PlattCalibrator platt:
                    w.Write((byte)2);
                    w.Write(platt.A);
                    w.Write(platt.B);
                    break;
                default:
                    w.Write((byte)0);
                    break;
            }
        }

        return buffer.ToArray();
    }

    internal static ICalibrator DecodeCalibrator(byte[] bytes)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes));
            switch (r.ReadByte())
            {
                case 1:
                    var n = r.ReadInt32();
                    if (n < 0 || n > bytes.Length / 16)
                    {
                        throw new InvalidDataException("isotonic calibrator with " + n + " points");
                    }

                    var centres = new double[n];
                    var values = new double[n];
                    for (var i = 0; i < n; i++)
                    {
                        centres[i] = r.ReadDouble();
                    }

                    for (var i = 0; i < n; i++)
                    {
                        values[i] = r.ReadDouble();
                    }

                    return n == 0 ? IdentityCalibrator.Instance : IsotonicCalibrator.FromPoints(centres, values);
                case 2:
                    return new PlattCalibrator(r.ReadDouble(), r.ReadDouble());
                default:
                    return IdentityCalibrator.Instance;
            }
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentException)
        {
            throw new InvalidDataException("the snapshot's calibrator extension is malformed: " + e.Message, e);
        }
    }

    private static byte[] EncodeCampaignStats(List<(string Id, ProgressiveStats Stats)> stats)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer))
        {
            w.Write(stats.Count);
            foreach (var (id, s) in stats)
            {
                w.Write(id);
                WriteStats(w, s);
            }
        }

        return buffer.ToArray();
    }

    private static Dictionary<string, ProgressiveStats> DecodeCampaignStats(byte[] bytes)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes));
            var count = r.ReadInt32();
            var result = new Dictionary<string, ProgressiveStats>(StringComparer.Ordinal);
            for (var i = 0; i < count; i++)
            {
                result[r.ReadString()] = ReadStats(r);
            }

            return result;
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("the snapshot's campaign statistics are truncated", e);
        }
    }

    private static byte[] EncodeEngine(CtrEngine engine)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer))
        {
            w.Write(engine.ExamplesLearned);
            WriteStats(w, engine.UncampaignedStatistics());
        }

        return buffer.ToArray();
    }

    private static void DecodeEngine(CtrEngine engine, byte[] bytes)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes));
            engine.SetExamplesLearned(r.ReadInt64());
            engine.RestoreUncampaigned(ReadStats(r));
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("the snapshot's engine extension is truncated", e);
        }
    }

    private static void WriteStats(BinaryWriter w, ProgressiveStats s)
    {
        w.Write(s.Examples);
        w.Write(s.Weight);
        w.Write(s.Clicks);
        w.Write(s.SumPredicted);
        w.Write(s.LogLossSum);
        w.Write(s.LastUpdateUnixMs);
    }

    private static ProgressiveStats ReadStats(BinaryReader r) => new()
    {
        Examples = r.ReadInt64(),
        Weight = r.ReadDouble(),
        Clicks = r.ReadDouble(),
        SumPredicted = r.ReadDouble(),
        LogLossSum = r.ReadDouble(),
        LastUpdateUnixMs = r.ReadInt64(),
    };
}
