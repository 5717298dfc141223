using System.Collections.Concurrent;
using System.Text;
using AdCtr.Learning.Features;
using AdCtr.Server.Hosting;
using AdCtr.Server.Model;

namespace AdCtr.Server.Joiner;

/// <summary>What became of one event.</summary>
public enum EventOutcome
{
    /// <summary>Applied (an impression recorded, a click learned as a positive).</summary>
    Accepted,

    /// <summary>Same type and impression id as an event already applied: ignored (events are idempotent).</summary>
    Duplicate,

    /// <summary>A click for a served prediction whose impression event has not arrived: not learned.</summary>
    ClickWithoutImpression,

    /// <summary>A click after the attribution window (or after its impression was expired early for memory): not learned.</summary>
    ClickAfterWindow,

    /// <summary>An impression after the attribution window: not learned.</summary>
    ImpressionAfterWindow,

    /// <summary>An impression id this server process (in a cluster: no silo of the cluster) never served, or one served before a restart: not learned.</summary>
    UnknownImpression,

    /// <summary>A malformed line.</summary>
    Invalid,

    /// <summary>
    /// In a cluster: the silo that served the prediction is dead, or did not answer the forwarded events in time
    /// (nothing of them was learned there unless it answered later; sending them again is safe: events are idempotent).
    /// </summary>
    ServingSiloUnavailable,
}

/// <summary>Event types of <c>/v1/events</c>.</summary>
public enum EventType
{
    Impression,
    Click,
}

/// <summary>One parsed event: <paramref name="IdBits"/> is the parsed impression id (0 with <paramref name="IdValid"/> false).</summary>
internal readonly record struct JoinEvent(EventType Type, ulong IdBits, bool IdValid, long TimestampMs);

/// <summary>Counters of the joiner since start.</summary>
public sealed record JoinerStatistics(
    long Pending,
    long Served,
    long Positives,
    long Negatives,
    long NegativesDownsampled,
    long ExpiredInWindow,
    long ExpiredEarly,
    long ExpiredWithoutImpression,
    IReadOnlyDictionary<EventOutcome, long> Events);

/// <summary>
/// The online joiner: remembers the encoded features of every served prediction, by impression id, for the
/// attribution window, and turns impression and click events into labeled examples that go through the
/// <see cref="ExampleIngestor"/> (log, then learn).
/// </summary>
/// <remarks>
/// <para>Policy <c>wait</c>: a click within the window on an impressed prediction is learned at once as a positive;
/// an impressed prediction whose window runs out unclicked is learned as a negative by the sweep.</para>
/// <para>Policy <c>fake-negative</c> (Ktena et al., "Addressing Delayed Feedback for Continuous Training with Neural
/// Networks in CTR prediction", RecSys 2019, fake negative weighted, FNW): every impression is learned at once as
/// a negative, a later click again as a positive. With p the current model's prediction for the example, treated
/// as a constant, the negative gets importance weight (1 - p)(1 + p) and the positive (1 + p), which makes the
/// loss on the biased stream (every positive also appears as a negative) an unbiased estimate of the true one.</para>
/// <para>Negative downsampling at rate r: a negative is kept when a uniform number derived from its impression id
/// (deterministic, no shared random state) is below r, with weight 1/r (or weight 1 and the prediction correction,
/// see <see cref="JoinerOptions.WeightNegatives"/>).</para>
/// <para>Time is the injected <see cref="TimeProvider"/> (server clock); the window runs from serving. Memory is
/// bounded by <see cref="JoinerOptions.MaxPending"/> over 16 shards, each a <see cref="PendingSlab"/> (structs and
/// flat feature arrays, no object per entry, so a million pending predictions cost full GCs nothing to trace)
/// with an id map and a ring in serving order; entries leave only from the ring front (expiry or early
/// eviction), so both stay in step. Pending entries live in memory: after a restart, events for earlier
/// predictions count as unknown.</para>
/// </remarks>
internal sealed partial class ImpressionJoiner : IServedPredictionSink, IAsyncDisposable
{
    private const int ShardCount = 16;
    private const int MaxCachedCampaignNames = 100_000;
    private const int IngestChunk = 4096;

    private readonly CtrEngine _engine;
    private readonly ExampleIngestor _ingestor;
    private readonly TimeProvider _time;
    private readonly JoinerMetrics? _metrics;
    private readonly bool _fakeNegative;
    private readonly long _windowMs;
    private readonly int _maxPerShard;
    private readonly double _negativeRate;
    private readonly bool _weightNegatives;
    private readonly ulong _specFingerprint;
    private readonly PendingSlab[] _shards = new PendingSlab[ShardCount];
    private readonly ConcurrentDictionary<ulong, string> _campaignNames = new();
    private readonly SemaphoreSlim _sweeping = new(1, 1);
    private readonly long[] _outcomes = new long[Enum.GetValues<EventOutcome>().Length];
    private readonly ITimer? _timer;
    private readonly ILogger? _logger;
    private long _served;
    private long _positives;
    private long _negatives;
    private long _downsampled;
    private long _expiredInWindow;
    private long _expiredEarly;
    private long _expiredUnimpressed;
    private long _evictions;

    public ImpressionJoiner(CtrEngine engine, ExampleIngestor ingestor, JoinerOptions options, double negativeRate, TimeProvider time, JoinerMetrics? metrics = null, bool startTimer = true, ILogger? logger = null)
    {
        if (!(negativeRate > 0 && negativeRate <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(negativeRate), negativeRate, "the fraction of negatives kept must be in (0, 1]");
        }

        _engine = engine;
        _ingestor = ingestor;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _fakeNegative = options.IsFakeNegative;
        _windowMs = Math.Max(1, (long)options.AttributionWindow.TotalMilliseconds);
        _maxPerShard = Math.Max(1, options.MaxPending / ShardCount);
        _negativeRate = negativeRate;
        _weightNegatives = options.WeightNegatives;
        _specFingerprint = engine.Spec.Fingerprint();
        var spec = engine.Spec;
        var globalStride = FeatureEncoder.MaxFeatures(spec, ModelPart.Global);
        var campaignStride = FeatureEncoder.MaxFeatures(spec, ModelPart.Campaign);
        for (var i = 0; i < ShardCount; i++)
        {
            _shards[i] = new PendingSlab(globalStride, campaignStride, _maxPerShard);
        }

        if (!_weightNegatives && negativeRate < 1)
        {
            engine.NegativeSamplingCorrection = negativeRate;
        }

        if (startTimer)
        {
            _timer = time.CreateTimer(static s => ((ImpressionJoiner)s!).OnTimer(), this, options.SweepInterval, options.SweepInterval);
        }
    }

    /// <summary>Predictions remembered now.</summary>
    public int PendingCount
    {
        get
        {
            var n = 0;
            foreach (var shard in _shards)
            {
                lock (shard)
                {
                    n += shard.Count;
                }
            }

            return n;
        }
    }

    /// <summary>Slots the shards' slabs hold (live, parked for the sweep, or free): what the store has grown to.</summary>
    internal int SlabSlots
    {
        get
        {
            var n = 0;
            foreach (var shard in _shards)
            {
                lock (shard)
                {
                    n += shard.Capacity;
                }
            }

            return n;
        }
    }

    public JoinerStatistics Statistics()
    {
        var events = new Dictionary<EventOutcome, long>();
        for (var i = 0; i < _outcomes.Length; i++)
        {
            events[(EventOutcome)i] = Interlocked.Read(ref _outcomes[i]);
        }

        return new JoinerStatistics(
            PendingCount,
            Interlocked.Read(ref _served),
            Interlocked.Read(ref _positives),
            Interlocked.Read(ref _negatives),
            Interlocked.Read(ref _downsampled),
            Interlocked.Read(ref _expiredInWindow),
            Interlocked.Read(ref _expiredEarly),
            Interlocked.Read(ref _expiredUnimpressed),
            events);
    }

    /// <summary>Remembers a served prediction (called on the predict path: no allocation once the slabs have grown).</summary>
    public void Served(ReadOnlySpan<byte> impressionId, RawRow row, EncodedExample x, double rawPrediction)
    {
        if (!CtrEngine.TryParseImpressionId(impressionId, out var bits))
        {
            return;
        }

        var servedMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var campaignName = x.HasCampaign ? CampaignName(x.CampaignKey, row) : null;
        var shard = ShardOf(bits);
        lock (shard)
        {
            // Bounded by the shard size: each pass removes one entry.
            while (shard.Count >= _maxPerShard && shard.TryPeekOldest(out _))
            {
                var oldest = shard.RemoveOldest();
                Interlocked.Increment(ref _expiredEarly);
                _metrics?.Expired(early: true);
                RetireEvicted(shard, oldest);
            }

            if (!shard.TryAdd(bits, servedMs, rawPrediction, x, campaignName))
            {
                return; // an id collision cannot happen (ids are a bijection of a counter)
            }
        }

        Interlocked.Increment(ref _served);
    }

    /// <summary>
    /// Applies events in order; the examples they make (positives, and fake negatives under that policy) are
    /// ingested (logged, then learned) before this completes. <paramref name="outcomes"/> receives one outcome per event.
    /// </summary>
    public async ValueTask<(int Positives, int Negatives)> HandleAsync(IReadOnlyList<JoinEvent> events, EventOutcome[] outcomes, CancellationToken ct)
    {
        var work = new Work(_specFingerprint);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        int positives = 0, negatives = 0;
        for (var i = 0; i < events.Count; i++)
        {
            outcomes[i] = Apply(events[i], now, work, ref positives, ref negatives);
        }

        try
        {
            await work.IngestAsync(_ingestor, ct).ConfigureAwait(false);
        }
        catch
        {
            // Nothing of the batch was logged or learned (e.g. the example log's disk is full): take back the
            // impressions and clicks it marked, so that the client's retry of the same events is applied again
            // instead of being counted as duplicates and its examples lost. Outcomes are not counted.
            Undo(work);
            throw;
        }

        for (var i = 0; i < events.Count; i++)
        {
            Interlocked.Increment(ref _outcomes[(int)outcomes[i]]);
            _metrics?.Event(events[i].Type, outcomes[i]);
        }

        Interlocked.Add(ref _positives, positives);
        Interlocked.Add(ref _negatives, negatives);
        _metrics?.Examples(positives, negatives);
        return (positives, negatives);
    }

    /// <summary>
    /// Expires every prediction whose window has run out (and those evicted early): impressed and unclicked ones
    /// become negatives under <c>wait</c>. Ingests them before completing. Sweeps do not overlap.
    /// </summary>
    public async Task<int> SweepAsync(CancellationToken ct = default)
    {
        await _sweeping.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            var retired = new List<Retired>();
            var deferred = new List<(long Sequence, int Slot)>();
            var evicted = new List<(long Sequence, Retired Entry)>();
            foreach (var shard in _shards)
            {
                lock (shard)
                {
                    // Bounded by the ring length.
                    while (shard.TryPeekOldest(out var front) && shard.Slot(front).ServedMs + _windowMs <= now)
                    {
                        shard.RemoveOldest();
                        Interlocked.Increment(ref _expiredInWindow);
                        _metrics?.Expired(early: false);
                        retired.Add(new Retired(shard, front, shard.CampaignNameOf(front)));
                    }

                    // Entries evicted before this point (later ones wait for the next sweep).
                    deferred.Clear();
                    shard.TakeDeferred(deferred);
                    foreach (var (sequence, slot) in deferred)
                    {
                        evicted.Add((sequence, new Retired(shard, slot, shard.CampaignNameOf(slot))));
                    }
                }
            }

            // Evicted entries follow the expired ones in eviction order, across shards.
            evicted.Sort(static (a, b) => a.Sequence.CompareTo(b.Sequence));
            foreach (var (_, entry) in evicted)
            {
                retired.Add(entry);
            }

            var negatives = 0;
            var ingested = 0; // entries of `retired` whose examples are logged and learned
            try
            {
                var work = new Work(_specFingerprint);
                for (var i = 0; i < retired.Count; i++)
                {
                    var entry = retired[i];
                    // The slot is out of the map and the ring and not yet released: read without the lock.
                    var state = entry.Shard.Slot(entry.Slot);
                    if (!_fakeNegative && state.Impressed && !state.Clicked)
                    {
                        if (AddNegative(work, entry.Shard, entry.Slot, entry.CampaignName, weight: 1f, now))
                        {
                            negatives++;
                        }
                    }
                    else if (!state.Impressed)
                    {
                        Interlocked.Increment(ref _expiredUnimpressed);
                    }

                    if (work.Batch.Count >= IngestChunk)
                    {
                        await work.IngestAsync(_ingestor, ct).ConfigureAwait(false);
                        work = new Work(_specFingerprint);
                        ingested = i + 1;
                    }
                }

                await work.IngestAsync(_ingestor, ct).ConfigureAwait(false);
                ingested = retired.Count;
            }
            finally
            {
                // Entries whose negatives were not ingested (the example log refused them, e.g. a full disk) are
                // parked again for the next sweep instead of being lost; the others are released.
                for (var i = 0; i < retired.Count; i++)
                {
                    var entry = retired[i];
                    lock (entry.Shard)
                    {
                        var state = entry.Shard.Slot(entry.Slot);
                        if (i >= ingested && !_fakeNegative && state.Impressed && !state.Clicked)
                        {
                            entry.Shard.Defer(entry.Slot, Interlocked.Increment(ref _evictions));
                        }
                        else
                        {
                            entry.Shard.Release(entry.Slot);
                        }
                    }
                }
            }

            Interlocked.Add(ref _negatives, negatives);
            _metrics?.Examples(0, negatives);
            return negatives;
        }
        finally
        {
            _sweeping.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
        }
    }

    private EventOutcome Apply(JoinEvent e, long now, Work work, ref int positives, ref int negatives)
    {
        if (!e.IdValid || !_engine.WasIssued(e.IdBits))
        {
            return EventOutcome.UnknownImpression;
        }

        var late = e.Type == EventType.Click ? EventOutcome.ClickAfterWindow : EventOutcome.ImpressionAfterWindow;
        var shard = ShardOf(e.IdBits);
        lock (shard)
        {
            if (!shard.TryFind(e.IdBits, out var slot))
            {
                return late;
            }

            ref var entry = ref shard.Slot(slot);
            if (entry.ServedMs + _windowMs <= now)
            {
                return late;
            }

            var timestamp = e.TimestampMs > 0 ? e.TimestampMs : now;
            if (e.Type == EventType.Impression)
            {
                if (entry.Impressed)
                {
                    return EventOutcome.Duplicate;
                }

                entry.Impressed = true;
                work.Marked(shard, e.IdBits, EventType.Impression);
                if (_fakeNegative)
                {
                    // FNW negative weight (1 - p)(1 + p), p the current prediction (Ktena et al. 2019).
                    var p = work.Predict(_engine, shard, slot);
                    if (AddNegative(work, shard, slot, shard.CampaignNameOf(slot), (float)((1 - p) * (1 + p)), timestamp))
                    {
                        negatives++;
                    }
                }

                return EventOutcome.Accepted;
            }

            if (entry.Clicked)
            {
                return EventOutcome.Duplicate;
            }

            if (!entry.Impressed)
            {
                return EventOutcome.ClickWithoutImpression;
            }

            entry.Clicked = true;
            work.Marked(shard, e.IdBits, EventType.Click);
            // FNW positive weight (1 + p) (Ktena et al. 2019); plain 1 under the wait policy.
            var weight = _fakeNegative ? (float)(1 + work.Predict(_engine, shard, slot)) : 1f;
            work.Add(shard, slot, shard.CampaignNameOf(slot), 1f, weight, timestamp);
            positives++;
            return EventOutcome.Accepted;
        }
    }

    /// <summary>Clears the impression and click marks a failed batch set, on the entries still pending.</summary>
    private static void Undo(Work work)
    {
        foreach (var (shard, id, type) in work.Marks)
        {
            lock (shard)
            {
                if (!shard.TryFind(id, out var slot))
                {
                    continue; // expired or evicted meanwhile
                }

                ref var entry = ref shard.Slot(slot);
                if (type == EventType.Impression)
                {
                    entry.Impressed = false;
                }
                else
                {
                    entry.Clicked = false;
                }
            }
        }
    }

    /// <summary>Adds a negative unless downsampling drops it; true when added.</summary>
    private bool AddNegative(Work work, PendingSlab shard, int slot, string? campaignName, float weight, long timestamp)
    {
        if (_negativeRate < 1)
        {
            // A uniform number in [0, 1) from the id's top 53 bits (the id is already a random-looking mix).
            var u = (shard.Slot(slot).Id >> 11) * (1.0 / (1UL << 53));
            if (u >= _negativeRate)
            {
                Interlocked.Increment(ref _downsampled);
                _metrics?.Downsampled();
                return false;
            }

            if (_weightNegatives)
            {
                weight = (float)(weight / _negativeRate);
            }
        }

        work.Add(shard, slot, campaignName, 0f, weight, timestamp);
        return true;
    }

    /// <summary>An entry evicted early (under the shard's lock): parked for the sweep if it is to become a negative, else freed.</summary>
    private void RetireEvicted(PendingSlab shard, int slot)
    {
        var entry = shard.Slot(slot);
        if (!_fakeNegative && entry.Impressed && !entry.Clicked)
        {
            shard.Defer(slot, Interlocked.Increment(ref _evictions)); // becomes a negative at the next sweep
            return;
        }

        if (!entry.Impressed)
        {
            Interlocked.Increment(ref _expiredUnimpressed);
        }

        shard.Release(slot);
    }

    private string CampaignName(ulong key, RawRow row)
    {
        if (_engine.KnownCampaignId(key) is { } known)
        {
            return known;
        }

        if (_campaignNames.TryGetValue(key, out var cached))
        {
            return cached;
        }

        if (_campaignNames.Count >= MaxCachedCampaignNames)
        {
            _campaignNames.Clear();
        }

        var name = Encoding.UTF8.GetString(row.Get(_engine.CampaignField));
        _campaignNames[key] = name;
        return name;
    }

    private PendingSlab ShardOf(ulong bits) => _shards[(int)(bits & (ShardCount - 1))];

    private void OnTimer() => _ = SweepFromTimerAsync();

    private async Task SweepFromTimerAsync()
    {
        try
        {
            await SweepAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // A failed sweep (e.g. the example log's disk is full, or the server is stopping) loses nothing: the
            // negatives it could not ingest are parked for the next tick, which tries again; the failure is counted.
            _metrics?.SweepFailed();
            if (_logger is not null)
            {
                Log.SweepFailed(_logger, e);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4201, Level = LogLevel.Error, Message = "Joiner expiry sweep failed; its negatives were not learned yet and are retried at the next sweep")]
        public static partial void SweepFailed(ILogger logger, Exception exception);
    }

    /// <summary>A pending entry taken out of its shard by a sweep, with its campaign id resolved under the lock.</summary>
    private readonly record struct Retired(PendingSlab Shard, int Slot, string? CampaignName);

    /// <summary>The examples one request or sweep makes: the batch, the campaign ids and the log records.</summary>
    private sealed class Work(ulong specFingerprint)
    {
        private readonly EncodedExample _x = new();
        private readonly List<ReadOnlyMemory<byte>> _records = [];
        private readonly Dictionary<ulong, string> _campaignIds = [];
        private byte[] _arena = new byte[16 * 1024];
        private int _used;

        public ExampleBatch Batch { get; } = new();

        /// <summary>The impression and click marks set while applying a request's events (undone if its ingestion fails).</summary>
        public List<(PendingSlab Shard, ulong Id, EventType Type)> Marks { get; } = [];

        public void Marked(PendingSlab shard, ulong id, EventType type) => Marks.Add((shard, id, type));

        /// <summary>The current raw prediction of the entry's example.</summary>
        public double Predict(CtrEngine engine, PendingSlab shard, int slot)
        {
            shard.CopyTo(slot, _x);
            return engine.PredictRaw(_x);
        }

        /// <summary>Adds the slot's example (under the shard's lock, or for a slot the caller has taken out).</summary>
        public void Add(PendingSlab shard, int slot, string? campaignId, float label, float weight, long timestampMs)
        {
            shard.CopyTo(slot, _x);
            Batch.Add(_x, label, weight, timestampMs);
            var entry = shard.Slot(slot);
            var id = campaignId is null ? [] : Encoding.UTF8.GetBytes(campaignId);
            if (entry.HasCampaign && campaignId is not null)
            {
                _campaignIds.TryAdd(entry.CampaignKey, campaignId);
            }

            var size = JoinedExampleRecord.Size(id.Length, entry.GlobalCount, entry.CampaignCount);
            if (_used + size > _arena.Length)
            {
                // Earlier records keep pointing into the old arena, which stays alive through them.
                _arena = new byte[Math.Max(_arena.Length, size)];
                _used = 0;
            }

            var written = JoinedExampleRecord.Write(
                _arena.AsSpan(_used),
                specFingerprint,
                label,
                weight,
                timestampMs,
                entry.HasCampaign,
                entry.CampaignKey,
                id,
                shard.GlobalIndices(slot),
                shard.GlobalValues(slot),
                shard.CampaignIndices(slot),
                shard.CampaignValues(slot));
            _records.Add(_arena.AsMemory(_used, written));
            _used += written;
        }

        public ValueTask IngestAsync(ExampleIngestor ingestor, CancellationToken ct) =>
            Batch.Count == 0 ? ValueTask.CompletedTask : ingestor.IngestAsync(Batch, _campaignIds, _records, ct);
    }
}
