using AdCtr.Learning.Calibration;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Snapshots;
using AdCtr.Server.Model;
using Orleans.Concurrency;

namespace AdCtr.Server.Durability;

/// <summary>
/// Copies the engine's whole model into a <see cref="ModelSnapshot"/> and back: the global model, every campaign
/// model (active grains read in place, deactivated ones from the grain storage), and as extensions
/// the campaign statistics, the engine's counters and the calibrator.
/// </summary>
internal static class ModelCheckpoint
{
    public const string CampaignStatsExtension = "adctr.server.campaign-stats";
    public const string EngineExtension = "adctr.server.engine";
    public const string CalibratorExtension = "adctr.server.calibrator";

    /// <summary>
    /// Captures the model. Call it with ingestion quiesced (<see cref="IngestionGate.QuiesceAsync"/>): no learn turn
    /// runs, so the copy holds exactly the examples learned so far. Copies the global table (one memcpy); active
    /// campaigns export their state through their grains (one call each), deactivated ones are read from the grain
    /// storage, so the caller can release ingestion before writing the file.
    /// </summary>
    public static async Task<ModelSnapshot> CaptureAsync(CtrEngine engine, long logPosition)
    {
        var global = new DenseFtrlModel(engine.Global.Bits, engine.Global.Parameters);
        global.CopyFrom(engine.Global);
        var ids = new List<string>(engine.CampaignIds());
        ids.Sort(StringComparer.Ordinal);
        var exports = new Task<Immutable<byte[]>>?[ids.Count];
        var stored = new byte[]?[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            // A grain that deactivates meanwhile stores its state before it leaves the view: one of the two has it.
            if (engine.Silo.View.TryGet(SiloModel.KeyOf(ids[i]), out _) || engine.Storage?.Contains(ids[i]) != true)
            {
                exports[i] = engine.CampaignGrain(ids[i]).Export();
            }
            else
            {
                stored[i] = engine.Storage.ReadBytes(ids[i]);
                exports[i] = stored[i] is null ? engine.CampaignGrain(ids[i]).Export() : null;
            }
        }

        var campaigns = new List<CampaignSnapshot>(ids.Count);
        var stats = new List<(string Id, ProgressiveStats Stats)>(ids.Count);
        for (var i = 0; i < ids.Count; i++)
        {
            var bytes = exports[i] is { } export ? (await export.ConfigureAwait(false)).Value : stored[i]!;
            var state = CampaignStateCodec.Decode(bytes);
            if (state.Model is null)
            {
                continue;
            }

            campaigns.Add(new CampaignSnapshot(SiloModel.KeyOf(ids[i]), ids[i], state.Model));
            stats.Add((ids[i], state.Stats));
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
    /// Makes the engine's model the snapshot's. With ingestion quiesced. Every campaign's state is written to the
    /// grain storage (read at its grain's next activation); active grains get it through a restore call. Campaigns
    /// the snapshot does not know restart empty.
    /// </summary>
    public static async Task RestoreAsync(CtrEngine engine, ModelSnapshot snapshot)
    {
        var storage = engine.Storage ?? throw new InvalidOperationException("this engine has no silo: it cannot restore campaign models");
        engine.Global.CopyFrom(snapshot.Global);
        var stats = snapshot.Extensions.TryGetValue(CampaignStatsExtension, out var statsBytes) ? DecodeCampaignStats(statsBytes) : [];
        var restored = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        storage.BeginReload();
        foreach (var campaign in snapshot.Campaigns)
        {
            var bytes = CampaignStateCodec.Encode(new CampaignState { Id = campaign.Id, Model = campaign.Model, Stats = stats.GetValueOrDefault(campaign.Id) ?? new ProgressiveStats() });
            storage.WriteBytes(campaign.Id, bytes);
            engine.RegisterCampaign(campaign.Key, campaign.Id);
            restored[campaign.Id] = bytes;
        }

        foreach (var id in engine.CampaignIds())
        {
            if (!restored.ContainsKey(id))
            {
                var empty = CampaignStateCodec.Encode(new CampaignState { Id = id, Model = engine.Silo.NewCampaignModel(id), Stats = new ProgressiveStats() });
                storage.WriteBytes(id, empty);
                restored[id] = empty;
            }
        }

        // After every state is stored: grains that activated earlier are in the view and get the new state here;
        // later activations read it from storage (CampaignGrain re-reads when a reload began during its read).
        var calls = new List<Task>();
        foreach (var entry in engine.Silo.View.Entries)
        {
            if (restored.TryGetValue(entry.Id, out var bytes))
            {
                calls.Add(engine.CampaignGrain(entry.Id).Restore(bytes.AsImmutable()));
            }
        }

        await Task.WhenAll(calls).ConfigureAwait(false);
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
                CampaignStateCodec.WriteStats(w, s);
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
                result[r.ReadString()] = CampaignStateCodec.ReadStats(r);
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
            CampaignStateCodec.WriteStats(w, engine.UncampaignedStatistics());
        }

        return buffer.ToArray();
    }

    private static void DecodeEngine(CtrEngine engine, byte[] bytes)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes));
            engine.SetExamplesLearned(r.ReadInt64());
            engine.RestoreUncampaigned(CampaignStateCodec.ReadStats(r));
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("the snapshot's engine extension is truncated", e);
        }
    }
}
