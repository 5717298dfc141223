using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using AdCtr.Grains.Storage;
using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Models;
using AdCtr.Learning.Readers;
using AdCtr.Server.Api;
using AdCtr.Server.Hosting;
using Orleans.Concurrency;

namespace AdCtr.Server.Model;

/// <summary>
/// The serving and learning core of the server: the feature spec and encoders, calibration and statistics, and
/// the silo's <see cref="SiloModel"/> (the global model and the view of active campaign models). Examples are
/// learned through the campaign grains (<see cref="ICampaignGrain"/>, one call per campaign per batch); predictions
/// read the view without grain calls. The global model is one dense FTRL table updated Hogwild-style (Recht et al.
/// 2011) by every campaign turn, not a single-writer grain: one grain in front of it would put all ingestion on one
/// core, and a local grain call costs 2.3-5 µs against ~0.7 µs for a whole prediction (../shared/STACK.md).
/// </summary>
internal sealed class CtrEngine : IAsyncDisposable, IProgressiveObserver
{
    private readonly ConcurrentQueue<Scratch> _scratch = new();
    private readonly ConcurrentDictionary<ulong, ICampaignGrain> _grainReferences = new();
    private readonly ProgressiveStats _uncampaigned = new();
    private readonly ulong _impressionSalt;
    private readonly uint? _siloTag;
    private readonly IGrainFactory? _grains;
    private long _impressionCounter;
    private long _examplesLearned;
    private Task _lastTurn = Task.CompletedTask;

    /// <param name="grains">The silo's grain factory; null for an engine that only predicts (tests of the serving path).</param>
    /// <param name="storage">The campaign grain storage (states of deactivated campaigns), or null with no silo.</param>
    public CtrEngine(FeatureSpec spec, ModelOptions model, LimitsOptions limits, CalibrationOptions calibration, TimeProvider time, IGrainFactory? grains = null, CampaignGrainStorage? storage = null, TimeSpan? keepAlivePeriod = null, AdCtr.Grains.GlobalSync.GlobalOutbox? outbox = null)
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
        Silo = new SiloModel(new DenseFtrlModel(spec.Bits, GlobalParameters), CampaignParameters, model.CampaignAdmission, time) { Observer = this, KeepAlivePeriod = keepAlivePeriod, Outbox = outbox };
        Names = new FieldNameTable(spec);
        CampaignField = spec.CampaignField is null ? -1 : spec.IndexOf(spec.CampaignField);
        AdField = spec.IndexOf("adId");
        AdvertiserField = spec.IndexOf("advertiserId");
        Calibration = new CalibrationService(calibration, time);
        _grains = grains;
        Storage = storage;
        _impressionSalt = (ulong)Random.Shared.NextInt64();
    }

    public FeatureSpec Spec { get; }

    public ModelOptions Model { get; }

    public LimitsOptions Limits { get; }

    public TimeProvider Time { get; }

    public FtrlParameters GlobalParameters { get; }

    public FtrlParameters CampaignParameters { get; }

    /// <summary>The silo-local model: global table, campaign view, known campaigns.</summary>
    public SiloModel Silo { get; }

    public DenseFtrlModel Global => Silo.Global;

    public FieldNameTable Names { get; }

    public int CampaignField { get; }

    public int AdField { get; }

    public int AdvertiserField { get; }

    public CalibrationService Calibration { get; }

    /// <summary>States of deactivated campaigns (null without a silo).</summary>
    public CampaignGrainStorage? Storage { get; }

    private IGrainFactory Grains => _grains ?? throw new InvalidOperationException("this engine has no silo: it cannot learn campaign examples");

    /// <summary>Examples learned since start (the model version served with predictions).</summary>
    public long ExamplesLearned => Interlocked.Read(ref _examplesLearned);

    public int KnownCampaigns => Silo.KnownCount;

    /// <summary>Campaign grains active in this silo (the rest are stored and come back on their next call).</summary>
    public int ActiveCampaignGrains => Silo.View.Count;

    /// <summary>
    /// The grain reference of a campaign, made once and kept: <c>GetGrain</c> resolves the grain interface type by
    /// reflection on every call (its attributes and type names), which profiled at 6 % of ingestion when it ran once
    /// per campaign per batch. Bounded like the campaign registry: one entry per campaign id asked for.
    /// </summary>
    public ICampaignGrain CampaignGrain(string id) => CampaignGrain(SiloModel.KeyOf(id), id);

    private ICampaignGrain CampaignGrain(ulong key, string id) =>
        _grainReferences.TryGetValue(key, out var grain)
            ? grain
            : _grainReferences.GetOrAdd(key, Grains.GetGrain<ICampaignGrain>(id));

    public Scratch RentScratch() => _scratch.TryDequeue(out var s) ? s : new Scratch(this);

    public void ReturnScratch(Scratch scratch) => _scratch.Enqueue(scratch);

    /// <summary>Receives every progressive prediction too (the metrics' sliding window), or null.</summary>
    public Telemetry.ProgressiveWindow? ProgressiveWindow { get; set; }

    void IProgressiveObserver.Record(double prediction, float label, float weight)
    {
        Calibration.Record(prediction, label, weight);
        ProgressiveWindow?.Add(prediction, label, weight);
    }

    /// <summary>The id of a campaign that has a model, by its 64-bit key; null for a campaign never learned.</summary>
    public string? KnownCampaignId(ulong key) => Silo.KnownId(key);

    public bool IsKnownCampaign(string id) => Silo.IsKnown(SiloModel.KeyOf(id));

    public IEnumerable<string> CampaignIds() => Silo.KnownIds;

    /// <summary>Marks a campaign id as known (it has, or will have, a model).</summary>
    public void RegisterCampaign(ulong key, string id) => Silo.Register(key, id);

    /// <summary>
    /// In a cluster: read-only replicas of the models of campaigns whose grain is active on another silo (fetched with
    /// one call by the first prediction that needs one, refreshed every <c>AdCtr:Cluster:ReplicaRefresh</c>); null on a
    /// single node, where every campaign's grain is in this silo. Set once at start.
    /// </summary>
    public CampaignReplicas? Replicas { get; set; }

    /// <summary>Receives the age of every replica a prediction reads (the staleness metric), or null.</summary>
    public IReplicaAgeObserver? ReplicaAges { get; set; }

    /// <summary>
    /// The model of a campaign for predictions, without a grain call: the active grain's model from the view, in a
    /// cluster a replica of a campaign active elsewhere, or null for a campaign never learned (cold start: the global
    /// model alone). False when the campaign needs a call first: on a single node a stored model with no active grain
    /// (the caller activates it, <see cref="ActivateAsync(ulong, string)"/>, and asks again); in a cluster any campaign
    /// not active here with no replica yet (the caller fetches one, the same method).
    /// </summary>
    public bool TryResolveCampaign(ulong key, out SparseFtrlModel? model)
    {
        if (Silo.View.TryGet(key, out var entry))
        {
            entry.MarkRead();
            model = entry.Model;
            return true;
        }

        if (Replicas is { } replicas)
        {
            return TryResolveReplica(replicas, key, out model);
        }

        model = null;
        return !Silo.IsKnown(key);
    }

    private bool TryResolveReplica(CampaignReplicas replicas, ulong key, out SparseFtrlModel? model)
    {
        if (replicas.TryGet(key, out var replica))
        {
            ReplicaAges?.Served(replicas.AgeSeconds(replica));
            model = replica.Model;
            return true;
        }

        model = null;
        return false;
    }

    /// <summary>Activates the grain of a known campaign (one call), so that its model enters the view.</summary>
    public Task ActivateAsync(ulong key) => Silo.KnownId(key) is { } id ? ActivateAsync(key, id) : Task.CompletedTask;

    /// <summary>
    /// One call for campaign <paramref name="id"/> (key <paramref name="key"/>) that makes <see cref="TryResolveCampaign"/>
    /// answer: in a cluster, fetches its replica (the grain answers from whichever silo it is active on; a campaign never
    /// learned anywhere gets a replica without a model); on a single node, activates its grain if it has a stored model.
    /// </summary>
    public Task ActivateAsync(ulong key, string id) =>
        Replicas is { } replicas ? replicas.GetOrFetchAsync(key, id)
        : Silo.KnownId(key) is { } known ? CampaignGrain(key, known).Activate()
        : Task.CompletedTask;

    /// <summary>The campaign model of <paramref name="key"/> for a prediction, activating its grain if it is stored.</summary>
    public async ValueTask<SparseFtrlModel?> ResolveCampaignAsync(ulong key)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            if (TryResolveCampaign(key, out var model))
            {
                return model;
            }

            await ActivateAsync(key).ConfigureAwait(false);
        }

        throw new CampaignUnavailableException(Silo.KnownId(key) ?? key.ToString("x16", System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Raw (uncalibrated) probability of an encoded example: global logit plus, for a campaign that has a model, its
    /// campaign logit (<paramref name="campaign"/>, from <see cref="TryResolveCampaign"/>); a campaign never learned gets
    /// the global model alone (cold start). Never changes model state.
    /// </summary>
    public double PredictRaw(EncodedExample x, SparseFtrlModel? campaign)
    {
        var logit = Global.Dot(x.Global.Indices, x.Global.Values);
        if (campaign is not null && x.HasCampaign)
        {
            logit += campaign.Dot(x.Campaign.Indices, x.Campaign.Values);
        }

        return Glmix.Sigmoid(logit);
    }

    /// <summary>
    /// <see cref="PredictRaw(EncodedExample, SparseFtrlModel?)"/> for a caller that cannot await (the joiner, under a
    /// lock): a campaign with a stored model but no active grain is read from the grain storage (slow, and rare: a
    /// campaign just served is active).
    /// </summary>
    public double PredictRaw(EncodedExample x) => PredictRaw(x, x.HasCampaign ? CampaignModelOrStored(x.CampaignKey) : null);

    /// <summary>
    /// The campaign model of <paramref name="key"/> without a grain call: the active grain's from the view, else a
    /// copy decoded from the grain storage (slow), else null (never learned).
    /// </summary>
    public SparseFtrlModel? CampaignModelOrStored(ulong key)
    {
        if (TryResolveCampaign(key, out var model))
        {
            return model;
        }

        var bytes = Silo.KnownId(key) is { } id ? Storage?.ReadBytes(id) : null;
        return bytes is null ? null : CampaignStateCodec.Decode(bytes).Model;
    }

    /// <summary>Like <see cref="PredictRaw(EncodedExample)"/>, activating a stored campaign's grain instead of reading storage.</summary>
    public async ValueTask<double> PredictRawAsync(EncodedExample x) =>
        PredictRaw(x, x.HasCampaign ? await ResolveCampaignAsync(x.CampaignKey).ConfigureAwait(false) : null);

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
        var n = Unmix(bits) ^ _impressionSalt;
        return n >= 1 && n <= (ulong)Interlocked.Read(ref _impressionCounter);
    }

    /// <summary>Bits of the salt below the silo tag: the counter stays below 2^44 (1.7e13 predictions per process).</summary>
    public const int SiloTagShift = 44;

    /// <summary>The largest silo tag (20 bits).</summary>
    public const uint MaxSiloTag = (1u << (64 - SiloTagShift)) - 1;

    /// <summary>
    /// In a cluster, the serving silo's tag (20 bits, <see cref="Cluster.EventForwarder.TagOf"/> of its address):
    /// it replaces the top bits of the random salt, so that <see cref="TagOf"/> of any id this process issues gives it
    /// back. The id's format, and the cost of writing one, are unchanged. Null (the default, a single node): the salt
    /// is all random, as before.
    /// </summary>
    public uint? SiloTag
    {
        get => _siloTag;
        init
        {
            if (value is { } tag)
            {
                ArgumentOutOfRangeException.ThrowIfGreaterThan(tag, MaxSiloTag);
                _impressionSalt = ((ulong)tag << SiloTagShift) | (_impressionSalt & ((1UL << SiloTagShift) - 1));
            }

            _siloTag = value;
        }
    }

    /// <summary>The silo tag of the process that issued <paramref name="bits"/> (a parsed impression id), when that process had one.</summary>
    public static uint TagOf(ulong bits) => (uint)(Unmix(bits) >> SiloTagShift);

    /// <summary>Inverts SplitMix64's finaliser and its added constant: counter XOR salt.</summary>
    private static ulong Unmix(ulong bits)
    {
        var z = bits;
        z ^= (z >> 31) ^ (z >> 62);
        z *= InverseMix2;
        z ^= (z >> 27) ^ (z >> 54);
        z *= InverseMix1;
        z ^= (z >> 30) ^ (z >> 60);
        return z - 0x9E3779B97F4A7C15UL;
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

    /// <summary>Learns row <paramref name="i"/>, which has no campaign, into the global model alone, on the caller's thread.</summary>
    private void LearnUncampaigned(ExampleBatch batch, int i, long now)
    {
        var label = batch.Label(i);
        var weight = batch.Weight(i);
        var p = Silo.Learn(null, batch, i);
        lock (_uncampaigned)
        {
            _uncampaigned.Add(p, label, weight, now);
        }

        ((IProgressiveObserver)this).Record(p, label, weight);
    }

    /// <summary>
    /// A place in the order in which batches are learned. Take one where the batch's order is decided (in the same lock
    /// as its append to the example log, so batches are learned in log order), then pass it to
    /// <see cref="LearnAsync(ExampleBatch, IReadOnlyDictionary{ulong, string}, LearnTurn)"/>, or <see cref="LearnTurn.Skip"/>
    /// it when the batch will not be learned.
    /// </summary>
    public LearnTurn TakeLearnTurn()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var previous = Interlocked.Exchange(ref _lastTurn, done.Task);
        return new LearnTurn(previous, done);
    }

    /// <summary>Learns a batch after every batch whose turn was taken before (see <see cref="TakeLearnTurn"/>).</summary>
    public ValueTask LearnAsync(ExampleBatch batch, IReadOnlyDictionary<ulong, string> campaignIds) =>
        LearnAsync(batch, campaignIds, TakeLearnTurn());

    /// <summary>
    /// Learns a batch so that the model after it depends only on the model before it and the batch, whatever the thread
    /// timing (issue 15): batches one after another in turn order, and within a batch one writer at a time. The rows
    /// without a campaign first, on the caller's thread; then each campaign's rows in order, in one grain turn per
    /// campaign (one call per campaign per batch), campaigns in the order of their first row in the batch, each turn
    /// after the previous one. So a batch is learned strictly in order, as the batch's rows grouped by campaign:
    /// <c>adctr-sim eval --batch N</c> learns the same way and gets the same model, bit for bit. Grouping costs no
    /// measurable quality against learning the rows as they came (loadtests/README.md, "Reproducible learning"); letting
    /// the campaigns of a batch learn in parallel against a global model frozen for the batch cost 22 % log loss at
    /// batches of 1,000. Completes when every example is learned, so a prediction made after the returned task
    /// completes sees them. A failed or timed-out call faults the task (the caller must not acknowledge the batch).
    /// </summary>
    public async ValueTask LearnAsync(ExampleBatch batch, IReadOnlyDictionary<ulong, string> campaignIds, LearnTurn turn)
    {
        try
        {
            await turn.Previous.ConfigureAwait(false);
            await LearnBatchAsync(batch, campaignIds).ConfigureAwait(false);
        }
        finally
        {
            turn.Done.TrySetResult();
        }
    }

    private async ValueTask LearnBatchAsync(ExampleBatch batch, IReadOnlyDictionary<ulong, string> campaignIds)
    {
        // The campaigns in the order of their first row, and each one's rows in order; the rows without one learned now.
        List<ulong>? order = null;
        Dictionary<ulong, List<int>>? rows = null;
        var now = Time.GetUtcNow().ToUnixTimeMilliseconds();
        for (var i = 0; i < batch.Count; i++)
        {
            if (!batch.HasCampaign(i))
            {
                LearnUncampaigned(batch, i, now);
                continue;
            }

            rows ??= [];
            order ??= [];
            var key = batch.CampaignKey(i);
            if (!rows.TryGetValue(key, out var list))
            {
                rows[key] = list = [];
                order.Add(key);
            }

            list.Add(i);
        }

        if (order is not null)
        {
            foreach (var key in order)
            {
                var id = campaignIds[key];
                RegisterCampaign(key, id);
                await CampaignGrain(key, id).Learn(new CampaignSlice(batch, [.. rows![key]]).AsImmutable()).ConfigureAwait(false);
            }
        }

        Interlocked.Add(ref _examplesLearned, batch.Count);
    }

    /// <summary>
    /// Learns a batch in a cluster, where acknowledged means durable in PostgreSQL: appends each campaign's rows to the
    /// campaign journal in one statement (one round trip and one commit per batch), then has each campaign's grain learn
    /// its slice at the journal positions it took. Throws <see cref="AdCtr.Grains.Journal.JournalUnavailableException"/>
    /// when the append fails: then nothing of the batch is journaled or learned. A batch whose
    /// <paramref name="batchKey"/> was journaled before is not appended again; its campaigns' grains catch up with their
    /// journals instead. Learn calls that fail are retried until <paramref name="retryFor"/> has passed (a grain on a
    /// silo that died is activated elsewhere once Orleans declares the silo dead, and replays its journal).
    /// </summary>
    /// <returns>True when every campaign has learned the batch; false when some had not when the retries ran out (the
    /// batch is durable all the same: those campaigns learn it at their next call or activation).</returns>
    public async ValueTask<bool> LearnJournaledAsync(
        ExampleBatch batch, IReadOnlyDictionary<ulong, string> campaignIds, Cluster.PostgreSqlJournal journal, string? batchKey, TimeSpan retryFor, CancellationToken ct)
    {
        var byCampaign = new SortedDictionary<string, List<int>>(StringComparer.Ordinal);
        List<int>? uncampaigned = null;
        for (var i = 0; i < batch.Count; i++)
        {
            if (!batch.HasCampaign(i))
            {
                (uncampaigned ??= []).Add(i);
                continue;
            }

            var id = campaignIds[batch.CampaignKey(i)];
            if (!byCampaign.TryGetValue(id, out var list))
            {
                byCampaign[id] = list = [];
            }

            list.Add(i);
        }

        // Each campaign's grain gets a batch of its own rows only: in a cluster two thirds of the grains are on other
        // silos, and a slice of the whole batch would serialize every campaign's rows to each of them.
        var ids = new string[byCampaign.Count];
        var slices = new ExampleBatch[byCampaign.Count];
        var rows = new int[byCampaign.Count][];
        var counts = new int[byCampaign.Count];
        var payloads = new byte[byCampaign.Count][];
        var c = 0;
        foreach (var (id, list) in byCampaign)
        {
            ids[c] = id;
            counts[c] = list.Count;
            payloads[c] = AdCtr.Grains.Journal.CampaignJournalCodec.Encode(batch, CollectionsMarshal.AsSpan(list));

            // The slice is made from the journal entry's bytes, which are then also its wire form to another silo.
            slices[c] = ExampleBatch.FromEncoded(payloads[c]);
            rows[c] = new int[list.Count];
            for (var r = 0; r < list.Count; r++)
            {
                rows[c][r] = r;
            }

            c++;
        }

        var heads = ids.Length == 0 ? [] : await journal.AppendAsync(batchKey, ids, counts, payloads, ct).ConfigureAwait(false);

        // Durable from here on. Examples without a campaign are not journaled: they only feed this silo's global model.
        if (uncampaigned is not null)
        {
            var now = Time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var i in uncampaigned)
            {
                LearnUncampaigned(batch, i, now);
            }
        }

        for (var k = 0; k < ids.Length; k++)
        {
            RegisterCampaign(SiloModel.KeyOf(ids[k]), ids[k]);
        }

        var pending = new List<int>(ids.Length);
        for (var k = 0; k < ids.Length; k++)
        {
            pending.Add(k);
        }

        var deadline = Time.GetUtcNow() + retryFor;
        var pause = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            var calls = new Task[pending.Count];
            for (var j = 0; j < pending.Count; j++)
            {
                var k = pending[j];
                var grain = CampaignGrain(ids[k]);
                calls[j] = heads is null
                    ? grain.SyncAndGetSummary()
                    : grain.Learn(new CampaignSlice(slices[k], rows[k], heads[ids[k]] - counts[k] + 1).AsImmutable());
            }

            try
            {
                await Task.WhenAll(calls).ConfigureAwait(false);
            }
            catch (Exception e) when (GrainFailures.IsUnavailable(e))
            {
                // Looked at per call below.
            }

            var failed = new List<int>();
            for (var j = 0; j < calls.Length; j++)
            {
                if (!calls[j].IsCompletedSuccessfully)
                {
                    if (calls[j].Exception?.InnerException is { } error && !GrainFailures.IsUnavailable(error))
                    {
                        await calls[j].ConfigureAwait(false); // a bug: let it surface
                    }

                    failed.Add(pending[j]);
                }
            }

            if (failed.Count == 0)
            {
                Interlocked.Add(ref _examplesLearned, batch.Count);
                return true;
            }

            if (Time.GetUtcNow() + pause > deadline || ct.IsCancellationRequested)
            {
                return false;
            }

            await Task.Delay(pause, Time, ct).ConfigureAwait(false);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
            pending = failed;
        }
    }

    /// <summary>True in a cluster whose examples are journaled in PostgreSQL (campaign grains then catch up with their journal before reporting).</summary>
    public bool Journaled { get; init; }

    /// <summary>
    /// Statistics of one campaign (through its grain, activating it if it is stored), or null when it has no model. In a
    /// cluster the grain first learns what its journal holds beyond its model (one PostgreSQL read), so the statistics
    /// count every acknowledged example; when PostgreSQL is unreachable they are the model's as it is.
    /// </summary>
    public async ValueTask<CampaignSummary?> GetCampaignAsync(string id)
    {
        if (!Journaled)
        {
            return IsKnownCampaign(id) ? await CampaignGrain(id).GetSummary().ConfigureAwait(false) : null;
        }

        CampaignSummary summary;
        try
        {
            summary = await CampaignGrain(id).SyncAndGetSummary().ConfigureAwait(false);
        }
        catch (AdCtr.Grains.Journal.JournalUnavailableException)
        {
            summary = await CampaignGrain(id).GetSummary().ConfigureAwait(false);
        }

        return summary.Examples > 0 || IsKnownCampaign(id) ? summary : null;
    }

    /// <summary>Current weights of the campaign-part features in <paramref name="named"/> (explain), from the campaign's grain.</summary>
    public async ValueTask<float[]> CampaignWeightsAsync(string id, List<NamedFeature> named)
    {
        var indices = new List<int>();
        foreach (var f in named)
        {
            if (f.Part == ModelPart.Campaign)
            {
                indices.Add(f.Index);
            }
        }

        return (await CampaignGrain(id).GetWeights(indices.ToArray().AsImmutable()).ConfigureAwait(false)).Value;
    }

    /// <summary>Progressive statistics over every campaign (active grains from the view, the rest from storage) and the examples without one.</summary>
    public ProgressiveStats GlobalStatistics()
    {
        var total = new ProgressiveStats();
        lock (_uncampaigned)
        {
            Merge(total, _uncampaigned);
        }

        foreach (var entry in Silo.View.Entries)
        {
            Merge(total, entry.Stats);
        }

        if (Storage is not null)
        {
            foreach (var (_, stored) in Storage.Index)
            {
                if (!Silo.View.TryGet(stored.Key, out _))
                {
                    Merge(total, stored.Stats);
                }
            }
        }

        return total;
    }

    /// <summary>Model size over active campaign grains (live tables) and stored states (their bytes).</summary>
    public (long Coordinates, long Bytes) CampaignModelSize()
    {
        long coordinates = 0, bytes = 0;
        foreach (var entry in Silo.View.Entries)
        {
            var model = entry.Model;
            coordinates += model.Coordinates;
            bytes += model.MemoryBytes;
        }

        if (Storage is not null)
        {
            foreach (var (_, stored) in Storage.Index)
            {
                if (!Silo.View.TryGet(stored.Key, out _))
                {
                    coordinates += stored.Coordinates;
                    bytes += stored.Bytes;
                }
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

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Per-request working objects (encoder, rows, parsed request, batch), pooled.</summary>
    internal sealed class Scratch(CtrEngine engine)
    {
        public FeatureEncoder Encoder { get; } = new(engine.Spec);

        public RawRow Row { get; } = new(engine.Spec.Fields.Length);

        public EncodedExample Encoded { get; } = new();

        public PredictRequest Request { get; } = new();

        public PredictRequestParser Parser { get; } = new(engine.Names, engine.Limits.MaxCandidates, engine.Limits.MaxFieldsPerObject, engine.Limits.MaxValueBytes);

        public double[] Ctr { get; private set; } = new double[64];

        public byte[] ImpressionIds { get; private set; } = new byte[64 * 17];

        /// <summary>Each candidate's campaign model (null: the global model alone), from the view.</summary>
        public SparseFtrlModel?[] Campaigns { get; private set; } = new SparseFtrlModel?[64];

        /// <summary>Keys of the request's campaigns that need a call (<see cref="CtrEngine.TryResolveCampaign"/> was false).</summary>
        public List<ulong> Inactive { get; } = [];

        /// <summary>The campaign ids of <see cref="Inactive"/>, in the same order.</summary>
        public List<string> InactiveIds { get; } = [];

        /// <summary>The encoded response of a predict request (grows to the largest response and stays).</summary>
        public System.Buffers.ArrayBufferWriter<byte> Output { get; } = new(1024);

        private System.Text.Json.Utf8JsonWriter? _writer;

        /// <summary>The scratch's JSON writer, reset onto <paramref name="output"/> (validation off: the handler writes well-formed JSON).</summary>
        public System.Text.Json.Utf8JsonWriter Writer(System.Buffers.IBufferWriter<byte> output)
        {
            if (_writer is null)
            {
                _writer = new System.Text.Json.Utf8JsonWriter(output, new System.Text.Json.JsonWriterOptions { SkipValidation = true });
            }
            else
            {
                _writer.Reset(output);
            }

            return _writer;
        }

        public void EnsureCapacity(int candidates)
        {
            if (Ctr.Length < candidates)
            {
                var n = Math.Max(candidates, Ctr.Length * 2);
                Ctr = new double[n];
                ImpressionIds = new byte[n * 17];
                Campaigns = new SparseFtrlModel?[n];
            }
        }
    }
}

/// <summary>Receives the age of each replica read by a prediction (in a cluster).</summary>
internal interface IReplicaAgeObserver
{
    void Served(double ageSeconds);
}

/// <summary>Receives the encoded features of every prediction served (for joining with impressions and clicks).</summary>
internal interface IServedPredictionSink
{
    void Served(ReadOnlySpan<byte> impressionId, RawRow row, EncodedExample x, double rawPrediction);
}

/// <summary>A campaign's grain could not be activated (its stored state is unreadable, or the silo is stopping).</summary>
internal sealed class CampaignUnavailableException(string campaignId)
    : Exception("campaign '" + campaignId + "' has a stored model but its grain could not be activated")
{
    public string CampaignId { get; } = campaignId;
}

/// <summary>
/// A batch's place in the learn order (<see cref="CtrEngine.TakeLearnTurn"/>): <see cref="Previous"/> completes when the
/// batch before it is learned (or skipped); <see cref="Done"/> is completed when this one is.
/// </summary>
internal sealed class LearnTurn(Task previous, TaskCompletionSource done)
{
    public Task Previous { get; } = previous;

    public TaskCompletionSource Done { get; } = done;

    /// <summary>Gives up the turn without learning: the next batch goes once the previous one is done.</summary>
    public void Skip() =>
        Previous.ContinueWith(static (_, state) => ((TaskCompletionSource)state!).TrySetResult(), Done, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
