using System.Collections.Concurrent;
using System.Text;
using AdCtr.Grains.Runtime;
using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Models;
using AdCtr.Learning.Readers;
using AdCtr.Server.Api;
using AdCtr.Server.Hosting;

namespace AdCtr.Server.Model;

/// <summary>
/// The serving and learning core of the server: the feature spec and encoders, the shared global model,
/// the campaign model grains, calibration and statistics.
/// The global model is one dense FTRL table updated Hogwild-style (Recht et al. 2011) from every campaign's
/// write turn, not a single-writer grain: a grain turn costs ~100-120 ns of queueing on top of the update
/// (measured, src/AdCtr.Grains/README.md) and one queue would serialise all ingestion on one core.
/// </summary>
internal sealed class CtrEngine : IAsyncDisposable
{
    private readonly ConcurrentDictionary<ulong, string> _campaignIds = new();
    private readonly ConcurrentQueue<Scratch> _scratch = new();
    private readonly ProgressiveStats _uncampaigned = new();
    private readonly ulong _impressionSalt;
    private long _impressionCounter;
    private long _examplesLearned;

    public CtrEngine(FeatureSpec spec, ModelOptions model, LimitsOptions limits, CalibrationOptions calibration, GrainRuntimeOptions grains, TimeProvider time, System.Diagnostics.Metrics.Meter? meter = null)
    {
        spec.Validate();
        Spec = spec;
        Model = model;
        Limits = limits;
        Time = time;
        GlobalParameters = model.Global.ToParameters();
        CampaignParameters = model.Campaign.ToParameters();
        GlobalParameters.Validate();
        CampaignParameters.Validate();
        Global = new DenseFtrlModel(spec.Bits, GlobalParameters);
        Names = new FieldNameTable(spec);
        CampaignField = spec.CampaignField is null ? -1 : spec.IndexOf(spec.CampaignField);
        AdField = spec.IndexOf("adId");
        AdvertiserField = spec.IndexOf("advertiserId");
        Calibration = new CalibrationService(calibration);
        Store = new CampaignStateStore();
        Runtime = new GrainRuntime(Store, grains, time, meter);
        Runtime.RegisterGrainType(_ => new CampaignGrain(this), new GrainTypeOptions { Name = "campaign" });
        Runtime.Start();
        _impressionSalt = (ulong)Random.Shared.NextInt64();
    }

    public FeatureSpec Spec { get; }

    public ModelOptions Model { get; }

    public LimitsOptions Limits { get; }

    public TimeProvider Time { get; }

    public FtrlParameters GlobalParameters { get; }

    public FtrlParameters CampaignParameters { get; }

    public DenseFtrlModel Global { get; }

    public FieldNameTable Names { get; }

    public int CampaignField { get; }

    public int AdField { get; }

    public int AdvertiserField { get; }

    public CalibrationService Calibration { get; }

    public CampaignStateStore Store { get; }

    public GrainRuntime Runtime { get; }

    /// <summary>Examples learned since start (the model version served with predictions).</summary>
    public long ExamplesLearned => Interlocked.Read(ref _examplesLearned);

    public int KnownCampaigns => _campaignIds.Count;

    /// <summary>Campaign grains active in this process (the rest are stored and come back on their next call).</summary>
    public int ActiveCampaignGrains => (int)Runtime.GetStatistics<CampaignGrain>().ActivationCount;

    public SparseFtrlModel NewCampaignModel(string campaignId) =>
        new(CampaignParameters, initialCapacity: 16, admissionProbability: Model.CampaignAdmission, seed: FeatureEncoder.CampaignKeyOf(Encoding.UTF8.GetBytes(campaignId)));

    public Scratch RentScratch() => _scratch.TryDequeue(out var s) ? s : new Scratch(this);

    public void ReturnScratch(Scratch scratch) => _scratch.Enqueue(scratch);

    /// <summary>Receives every progressive prediction too (the metrics' sliding window), or null.</summary>
    public Telemetry.ProgressiveWindow? ProgressiveWindow { get; set; }

    public void RecordProgressive(double p, float label, float weight)
    {
        Calibration.Record(p, label, weight);
        ProgressiveWindow?.Add(p, label, weight);
    }

    /// <summary>The id of a campaign that has a model, by its 64-bit key; null for a campaign never learned.</summary>
    public string? KnownCampaignId(ulong key) => _campaignIds.GetValueOrDefault(key);

    public bool IsKnownCampaign(string id) => _campaignIds.ContainsKey(FeatureEncoder.CampaignKeyOf(Encoding.UTF8.GetBytes(id)));

    public IEnumerable<string> CampaignIds() => _campaignIds.Values;

    /// <summary>Marks a campaign id as known (it has, or will have, a model).</summary>
    public void RegisterCampaign(ulong key, string id) => _campaignIds.TryAdd(key, id);

    /// <summary>
    /// Raw (uncalibrated) probability of an encoded example: global logit plus, for a campaign that has a
    /// model, its campaign logit; a campaign never learned gets the global model alone (cold start).
    /// Never changes model state.
    /// </summary>
    public double PredictRaw(EncodedExample x)
    {
        var logit = Global.Dot(x.Global.Indices, x.Global.Values);
        if (x.HasCampaign && _campaignIds.TryGetValue(x.CampaignKey, out var id))
        {
            logit += Runtime.GetGrain<CampaignGrain>(id).Read(x, static (g, e) => g.Model.Dot(e.Campaign.Indices, e.Campaign.Values));
        }

        return Glmix.Sigmoid(logit);
    }

    /// <summary>Receives every served prediction (the impression joiner), or null.</summary>
    public IServedPredictionSink? ServedSink { get; set; }

    /// <summary>Hands a served prediction (its raw row, for the campaign id, and its encoding) to the joiner, if any.</summary>
    public void OnServed(ReadOnlySpan<byte> impressionId, RawRow row, EncodedExample x, double raw) => ServedSink?.Served(impressionId, row, x, raw);

    /// <summary>
    /// Fraction r of negatives kept when the joiner downsamples negatives without importance weights; 1 = no
    /// correction. Predictions are then corrected with q = p / (p + (1 - p) / r) (He et al. 2014, section 6.2).
    /// </summary>
    public double NegativeSamplingCorrection { get; set; } = 1.0;

    /// <summary>Calibrated probability from a raw one (and the downsampling correction, when configured).</summary>
    public double Calibrate(double raw)
    {
        var p = Calibration.Current.Calibrate(raw);
        var r = NegativeSamplingCorrection;
        return r < 1.0 ? p / (p + ((1 - p) / r)) : p;
    }

    /// <summary>Snapshot restore: the number of examples the restored model has learned.</summary>
    public void SetExamplesLearned(long value) => Interlocked.Exchange(ref _examplesLearned, value);

    /// <summary>Snapshot hook: a copy of the statistics of examples without a campaign.</summary>
    public ProgressiveStats UncampaignedStatistics()
    {
        lock (_uncampaigned)
        {
            return _uncampaigned.Clone();
        }
    }

    /// <summary>Snapshot restore: replaces the statistics of examples without a campaign.</summary>
    public void RestoreUncampaigned(ProgressiveStats stats)
    {
        lock (_uncampaigned)
        {
            _uncampaigned.Examples = stats.Examples;
            _uncampaigned.Weight = stats.Weight;
            _uncampaigned.Clicks = stats.Clicks;
            _uncampaigned.SumPredicted = stats.SumPredicted;
            _uncampaigned.LogLossSum = stats.LogLossSum;
            _uncampaigned.LastUpdateUnixMs = stats.LastUpdateUnixMs;
        }
    }

    /// <summary>
    /// Reads an impression id written by <see cref="WriteImpressionId"/> ("i" + 16 lowercase hex digits) into its
    /// 64 bits; false for anything else.
    /// </summary>
    public static bool TryParseImpressionId(ReadOnlySpan<byte> id, out ulong bits)
    {
        bits = 0;
        if (id.Length != 17 || id[0] != (byte)'i')
        {
            return false;
        }

        for (var i = 1; i < 17; i++)
        {
            var c = id[i];
            int nibble = c is >= (byte)'0' and <= (byte)'9' ? c - '0' : c is >= (byte)'a' and <= (byte)'f' ? c - 'a' + 10 : -1;
            if (nibble < 0)
            {
                return false;
            }

            bits = (bits << 4) | (uint)nibble;
        }

        return true;
    }

    /// <summary>
    /// True when <paramref name="bits"/> (a parsed impression id) was issued by this process: the id is a
    /// bijective mix (SplitMix64's finaliser) of a counter, so inverting it gives the counter back, which must lie
    /// in 1..(ids issued so far). Lets the joiner tell "expired" from "never served" without remembering old ids.
    /// </summary>
    public bool WasIssued(ulong bits)
    {
        var z = bits;
        z ^= (z >> 31) ^ (z >> 62);
        z *= InverseMix2;
        z ^= (z >> 27) ^ (z >> 54);
        z *= InverseMix1;
        z ^= (z >> 30) ^ (z >> 60);
        var n = (z - 0x9E3779B97F4A7C15UL) ^ _impressionSalt;
        return n >= 1 && n <= (ulong)Interlocked.Read(ref _impressionCounter);
    }

    /// <summary>Multiplicative inverses (mod 2^64) of SplitMix64's two odd multipliers.</summary>
    private static readonly ulong InverseMix1 = ModInverse(0xBF58476D1CE4E5B9UL);
    private static readonly ulong InverseMix2 = ModInverse(0x94D049BB133111EBUL);

    private static ulong ModInverse(ulong a)
    {
        // Newton's iteration x <- x (2 - a x) doubles the correct low bits each step; x = a is right to 3 bits.
        var x = a;
        for (var i = 0; i < 6; i++)
        {
            x *= 2 - (a * x);
        }

        return x;
    }

    /// <summary>Writes a fresh impression id ("i" + 16 hex digits) and returns its length.</summary>
    public int WriteImpressionId(Span<byte> destination)
    {
        var n = (ulong)Interlocked.Increment(ref _impressionCounter);
        var z = (n ^ _impressionSalt) + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        destination[0] = (byte)'i';
        for (var i = 0; i < 16; i++)
        {
            var nibble = (int)(z >> (60 - (4 * i))) & 0xF;
            destination[1 + i] = (byte)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);
        }

        return 17;
    }

    /// <summary>
    /// Learns a batch: examples without a campaign on the caller's thread, the others as one write turn per
    /// campaign (campaigns run in parallel; each campaign's examples in order). Completes when every example
    /// is learned, so a prediction made after the returned task completes sees them.
    /// </summary>
    public async ValueTask LearnAsync(ExampleBatch batch, IReadOnlyDictionary<ulong, string> campaignIds)
    {
        Dictionary<ulong, CampaignWork>? work = null;
        var now = Time.GetUtcNow().ToUnixTimeMilliseconds();
        for (var i = 0; i < batch.Count; i++)
        {
            if (!batch.HasCampaign(i))
            {
                var label = batch.Label(i);
                var weight = batch.Weight(i);
                var p = GlmixSpans.Learn(Global, null, batch.GlobalIndices(i), batch.GlobalValues(i), default, default, label, weight);
                lock (_uncampaigned)
                {
                    _uncampaigned.Add(p, label, weight, now);
                }

                RecordProgressive(p, label, weight);
                continue;
            }

            work ??= [];
            var key = batch.CampaignKey(i);
            if (!work.TryGetValue(key, out var w))
            {
                var id = campaignIds[key];
                RegisterCampaign(key, id);
                work[key] = w = new CampaignWork(batch, id);
            }

            w.Rows.Add(i);
        }

        if (work is not null)
        {
            var pending = new List<Task>(work.Count);
            foreach (var w in work.Values)
            {
                pending.Add(Runtime.GetGrain<CampaignGrain>(w.CampaignId).InvokeAsync(w, static (g, item) =>
                {
                    g.Learn(item);
                    return ValueTask.FromResult(true);
                }).AsTask());
            }

            await Task.WhenAll(pending).ConfigureAwait(false);
        }

        Interlocked.Add(ref _examplesLearned, batch.Count);
    }

    /// <summary>Statistics of one campaign (active or stored), or null when it has no model.</summary>
    public async ValueTask<CampaignSummary?> GetCampaignAsync(string id)
    {
        if (!IsKnownCampaign(id))
        {
            return null;
        }

        return await Runtime.GetGrain<CampaignGrain>(id).ReadAsync(0, static (g, _) => ValueTask.FromResult(CampaignSummary.Of(g.GetPrimaryKeyString(), g.Model, g.Statistics))).ConfigureAwait(false);
    }

    /// <summary>Current weights of the campaign-part features in <paramref name="named"/> (explain).</summary>
    public async ValueTask<float[]> CampaignWeightsAsync(string id, List<NamedFeature> named) =>
        await Runtime.GetGrain<CampaignGrain>(id).ReadAsync(named, static (g, list) =>
        {
            var weights = new List<float>();
            foreach (var f in list)
            {
                if (f.Part == ModelPart.Campaign)
                {
                    weights.Add(g.Model.WeightOf(f.Index));
                }
            }

            return ValueTask.FromResult(weights.ToArray());
        }).ConfigureAwait(false);

    /// <summary>Progressive statistics over every campaign and the examples without one.</summary>
    public ProgressiveStats GlobalStatistics()
    {
        var total = new ProgressiveStats();
        lock (_uncampaigned)
        {
            Merge(total, _uncampaigned);
        }

        foreach (var id in _campaignIds.Values)
        {
            var grain = Runtime.GetGrain<CampaignGrain>(id);
            if (grain.IsActive)
            {
                Merge(total, grain.Read(0, static (g, _) => g.Statistics));
            }
        }

        foreach (var state in Store.Entries())
        {
            if (!Runtime.GetGrain<CampaignGrain>(state.Id).IsActive)
            {
                Merge(total, state.Stats);
            }
        }

        return total;
    }

    /// <summary>Sums model size over active campaign grains and stored states.</summary>
    public (long Coordinates, long Bytes) CampaignModelSize()
    {
        long coordinates = 0, bytes = Store.Bytes;
        foreach (var id in _campaignIds.Values)
        {
            var grain = Runtime.GetGrain<CampaignGrain>(id);
            if (grain.IsActive)
            {
                var (c, b) = grain.Read(0, static (g, _) => (g.Model.Coordinates, g.Model.MemoryBytes));
                coordinates += c;
                bytes += b;
            }
        }

        return (coordinates, bytes);
    }

    private static void Merge(ProgressiveStats total, ProgressiveStats s)
    {
        total.Examples += s.Examples;
        total.Weight += s.Weight;
        total.Clicks += s.Clicks;
        total.SumPredicted += s.SumPredicted;
        total.LogLossSum += s.LogLossSum;
        total.LastUpdateUnixMs = Math.Max(total.LastUpdateUnixMs, s.LastUpdateUnixMs);
    }

    public async ValueTask DisposeAsync() => await Runtime.DisposeAsync().ConfigureAwait(false);

    /// <summary>Per-request working objects (encoder, rows, parsed request, batch), pooled.</summary>
    internal sealed class Scratch(CtrEngine engine)
    {
        public FeatureEncoder Encoder { get; } = new(engine.Spec);

        public RawRow Row { get; } = new(engine.Spec.Fields.Length);

        public EncodedExample Encoded { get; } = new();

        public PredictRequest Request { get; } = new();

        public PredictRequestParser Parser { get; } = new(engine.Names, engine.Limits.MaxCandidates, engine.Limits.MaxFieldsPerObject, engine.Limits.MaxValueBytes);

        public double[] Ctr { get; set; } = new double[64];

        public byte[] ImpressionIds { get; set; } = new byte[64 * 17];
    }
}

/// <summary>Receives the encoded features of every prediction served (for joining with impressions and clicks).</summary>
internal interface IServedPredictionSink
{
    void Served(ReadOnlySpan<byte> impressionId, RawRow row, EncodedExample x, double rawPrediction);
}

/// <summary>What <c>GET /v1/campaigns/{id}</c> reports.</summary>
internal sealed record CampaignSummary(string CampaignId, long Coefficients, long ModelBytes, long Examples, double Clicks, double? LogLoss, double? NormalizedEntropy, double? CalibrationRatio, DateTimeOffset? LastUpdate)
{
    public static CampaignSummary Of(string id, SparseFtrlModel model, ProgressiveStats s) => new(
        id,
        model.Coordinates,
        model.MemoryBytes,
        s.Examples,
        s.Clicks,
        Finite(s.LogLoss),
        Finite(s.NormalizedEntropy),
        Finite(s.CalibrationRatio),
        s.LastUpdateUnixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(s.LastUpdateUnixMs) : null);

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;
}
