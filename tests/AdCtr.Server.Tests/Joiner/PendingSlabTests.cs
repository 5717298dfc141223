using AdCtr.Learning.Features;
using AdCtr.Server.Hosting;
using AdCtr.Server.Joiner;
using AdCtr.Server.Model;
using AdCtr.Server.Tests.Storage;

namespace AdCtr.Server.Tests.Joiner;

/// <summary>
/// The slab store of pending predictions: slots reused after expiry and early eviction must hand back exactly the
/// example that was served into them. Examples are observed as the joiner's log records (captured by a sink), which
/// carry label, weight, timestamp, campaign id and every feature.
/// </summary>
public sealed class PendingSlabTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 1, 5, 12, 0, 0, TimeSpan.Zero);
    private readonly ManualTimeProvider _time = new(Start);
    private EngineHost _host = null!;
    private readonly RecordingSink _log = new();

    private CtrEngine Engine => _host.Engine;

    public async Task InitializeAsync()
    {
        // A real silo with the campaign grains: the joiner's examples are learned through them, as in the server.
        var spec = FeatureSpec.Load(Path.Combine(AppContext.BaseDirectory, "config", "features.sim.json")).WithBits(18);
        _host = await EngineHost.StartAsync(spec, new ModelOptions { Bits = 18 }, new LimitsOptions(), new CalibrationOptions { Kind = CalibrationKind.None }, _time);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public void MaxFeatures_FullRow_EqualsEncodedCounts()
    {
        // features.sim.json: 13 fields (all global, 8 also campaign) and 7 global crosses, campaign field set:
        // global 1 + 13 + 7 = 21, campaign 8 + 1 = 9; a row with every field present reaches both.
        var x = Encode(FullRow("c9", 1));

        Assert.Equal(21, FeatureEncoder.MaxFeatures(Engine.Spec, ModelPart.Global));
        Assert.Equal(9, FeatureEncoder.MaxFeatures(Engine.Spec, ModelPart.Campaign));
        Assert.Equal(21, x.Global.Count);
        Assert.Equal(9, x.Campaign.Count);
    }

    [Fact]
    public void Slab_ReleasedSlotReused_HoldsExactlyTheNewExample()
    {
        var slab = new PendingSlab(21, 9, 4);
        var big = Encode(FullRow("c-big", 3));
        var small = Encode(SmallRow("c-small"));
        Assert.True(small.Global.Count < big.Global.Count); // so stale features of the big one would show

        Assert.True(slab.TryAdd(1, 10, 0.25, big, "c-big"));
        Assert.True(slab.TryPeekOldest(out var first));
        Assert.Equal(first, slab.RemoveOldest());
        slab.Release(first);
        Assert.True(slab.TryAdd(2, 20, 0.5, small, "c-small"));
        Assert.True(slab.TryFind(2, out var reused));

        var back = new EncodedExample();
        slab.CopyTo(reused, back);
        Assert.Equal(first, reused);
        Assert.Equal(1, slab.Capacity);
        AssertSame(small, back);
        Assert.Equal("c-small", slab.CampaignNameOf(reused));
        Assert.Equal(20, slab.Slot(reused).ServedMs);
        Assert.Equal(0.5, slab.Slot(reused).Raw);
        Assert.False(slab.Slot(reused).Impressed);
    }

    [Fact]
    public void Slab_ExampleBeyondStrides_KeepsEveryFeature()
    {
        // Strides of 4 and 2 are below this example's 21 and 9 features: they go to the slot's side arrays.
        var slab = new PendingSlab(4, 2, 8);
        var big = Encode(FullRow("c-big", 5));
        Assert.True(slab.TryAdd(7, 1, 0.1, big, "c-big"));
        Assert.True(slab.TryFind(7, out var slot));

        var back = new EncodedExample();
        slab.CopyTo(slot, back);
        AssertSame(big, back);

        slab.RemoveOldest();
        slab.Release(slot);
        var small = Encode(SmallRow("c-small"));
        Assert.True(small.Global.Count > 4); // still beyond the stride
        Assert.True(slab.TryAdd(8, 2, 0.2, small, "c-small"));
        slab.CopyTo(slot, back);
        AssertSame(small, back);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Joiner_ClickOnReusedSlot_LogsTheSameExampleAsWithoutReuse(bool reuseAfterExpiry)
    {
        // With reuse: 16 shards of one slot each, all filled with full rows (more features, another campaign).
        var joiner = NewJoiner(maxPending: 16);
        for (var i = 0; i < 10_000 && joiner.SlabSlots < 16; i++)
        {
            // Unimpressed evictions free their slot at once, so each shard keeps exactly one slot. All 16 shards
            // are hit within 10,000 ids except with probability 16 * (15/16)^10000 (below 1e-270).
            Serve(joiner, FullRow("c-x", i));
        }

        Assert.Equal(16, joiner.SlabSlots);
        if (reuseAfterExpiry)
        {
            _time.Advance(TimeSpan.FromMinutes(16));
            Assert.Equal(0, await joiner.SweepAsync());
            Assert.Equal(0, joiner.PendingCount);
        }

        // Without reuse, at the same clock: a fresh joiner serves the example and joins its impression and click.
        var fresh = NewJoiner(maxPending: 1000);
        var y = Serve(fresh, SmallRow("c-y"));
        await HandleAsync(fresh, (EventType.Impression, y), (EventType.Click, y));
        Assert.Equal(1, fresh.SlabSlots);
        var expected = Assert.Single(_log.Records);
        _log.Records.Clear();

        var id = Serve(joiner, SmallRow("c-y"));
        var outcomes = await HandleAsync(joiner, (EventType.Impression, id), (EventType.Click, id));

        Assert.Equal([EventOutcome.Accepted, EventOutcome.Accepted], outcomes);
        Assert.Equal(16, joiner.SlabSlots); // no slot was added: the example went into a reused one
        Assert.Equal(expected, Assert.Single(_log.Records));
        AssertRecord(expected, Encode(SmallRow("c-y")), "c-y", label: 1f);
    }

    [Fact]
    public async Task Joiner_RoundTripAtMaxPending8_WithEvictions_LearnsExactExamples()
    {
        // MaxPending 8 over 16 shards: one entry per shard.
        var joiner = NewJoiner(maxPending: 8);
        var a = Serve(joiner, SmallRow("c-a"));
        Assert.Equal([EventOutcome.Accepted, EventOutcome.Accepted], await HandleAsync(joiner, (EventType.Impression, a), (EventType.Click, a)));
        AssertRecord(Assert.Single(_log.Records), Encode(SmallRow("c-a")), "c-a", label: 1f);

        // An impressed, unclicked entry, then 200 more servings: its shard evicts it (it is parked for the sweep,
        // its slot kept), while later entries of that shard take new or freed slots.
        var v = Serve(joiner, FullRow("c-v", 7));
        Assert.Equal([EventOutcome.Accepted], await HandleAsync(joiner, (EventType.Impression, v)));
        for (var i = 0; i < 200; i++)
        {
            Serve(joiner, FullRow("c-other", i));
        }

        var stats = joiner.Statistics();
        Assert.InRange(joiner.PendingCount, 1, 16);
        // 202 served; all but those still pending were evicted early.
        Assert.Equal(202 - joiner.PendingCount, stats.ExpiredEarly);
        // v is evicted unless its shard got none of the next 200 ids: probability (15/16)^200 < 3e-6, and then
        // the click would be accepted and this assertion report it.
        Assert.Equal([EventOutcome.ClickAfterWindow], await HandleAsync(joiner, (EventType.Click, v)));

        _log.Records.Clear();
        Assert.Equal(1, await joiner.SweepAsync()); // v's negative, from its parked slot
        AssertRecord(Assert.Single(_log.Records), Encode(FullRow("c-v", 7)), "c-v", label: 0f);

        // The newest entry of a shard is pending: a last round trip on the (by now reused) slots.
        _log.Records.Clear();
        var w = Serve(joiner, SmallRow("c-w"));
        Assert.Equal([EventOutcome.Accepted, EventOutcome.Accepted, EventOutcome.Duplicate], await HandleAsync(joiner, (EventType.Impression, w), (EventType.Click, w), (EventType.Click, w)));
        AssertRecord(Assert.Single(_log.Records), Encode(SmallRow("c-w")), "c-w", label: 1f);
        Assert.Equal(3, Engine.ExamplesLearned); // a's positive, v's negative, w's positive
        // Slots: at most one live per shard plus v's parked one, reused after the sweep.
        Assert.InRange(joiner.SlabSlots, 1, 17);
    }

    private void AssertRecord(byte[] record, EncodedExample expected, string campaign, float label)
    {
        var x = new EncodedExample();
        var id = JoinedExampleRecord.Read(record, Engine.Spec.Fingerprint(), x, out var l, out var weight, out var ts);
        Assert.Equal(campaign, id);
        Assert.Equal(label, l);
        Assert.Equal(1f, weight); // wait policy, no downsampling
        Assert.Equal(_time.GetUtcNow().ToUnixTimeMilliseconds(), ts);
        AssertSame(expected, x);
    }

    [Fact]
    public async Task Sweep_LogRefusesTheNegatives_TheyAreParkedAndLearnedAtTheNextSweep()
    {
        await using var joiner = NewJoiner(maxPending: 1000);
        var ids = new[] { Serve(joiner, SmallRow("c1")), Serve(joiner, SmallRow("c2")), Serve(joiner, FullRow("c3", 1)) };
        await HandleAsync(joiner, (EventType.Impression, ids[0]), (EventType.Impression, ids[1]), (EventType.Impression, ids[2]));
        _time.Advance(TimeSpan.FromMinutes(16)); // past the 15-minute window: three impressed, unclicked -> three negatives

        _log.DiskFull = true;
        await Assert.ThrowsAsync<AdCtr.Server.Storage.StorageFaultException>(() => joiner.SweepAsync());
        Assert.Empty(_log.Records);
        Assert.Equal(0, _engine.ExamplesLearned);

        _log.DiskFull = false;
        Assert.Equal(3, await joiner.SweepAsync());
        Assert.Equal(3, _log.Records.Count);
        Assert.Equal(3, _engine.ExamplesLearned);
        Assert.Equal(0, await joiner.SweepAsync()); // learned once, not again
    }

    private static void AssertSame(EncodedExample expected, EncodedExample actual)
    {
        Assert.Equal(expected.HasCampaign, actual.HasCampaign);
        Assert.Equal(expected.CampaignKey, actual.CampaignKey);
        Assert.Equal(expected.Global.Indices.ToArray(), actual.Global.Indices.ToArray());
        Assert.Equal(expected.Global.Values.ToArray(), actual.Global.Values.ToArray());
        Assert.Equal(expected.Campaign.Indices.ToArray(), actual.Campaign.Indices.ToArray());
        Assert.Equal(expected.Campaign.Values.ToArray(), actual.Campaign.Values.ToArray());
    }

    private ImpressionJoiner NewJoiner(int maxPending) =>
        new(Engine, new ExampleIngestor(Engine, _log), new JoinerOptions { Policy = JoinerOptions.WaitPolicy, MaxPending = maxPending }, 1.0, _time, startTimer: false);

    private RawRow SmallRow(string campaign)
    {
        var spec = Engine.Spec;
        var row = new RawRow(spec.Fields.Length);
        row.Set(spec.IndexOf("campaignId"), campaign);
        row.Set(spec.IndexOf("adId"), campaign + "-a1");
        row.Set(spec.IndexOf("user_age"), "18-24");
        row.Set(spec.IndexOf("device"), "d2");
        row.Set(spec.IndexOf("hour"), "7");
        return row;
    }

    private RawRow FullRow(string campaign, int variant)
    {
        var spec = Engine.Spec;
        var row = new RawRow(spec.Fields.Length);
        foreach (var field in spec.Fields)
        {
            row.Set(spec.IndexOf(field.Name), field.Name == "campaignId" ? campaign : field.Name + "-" + (variant % 5));
        }

        return row;
    }

    private EncodedExample Encode(RawRow row)
    {
        var x = new EncodedExample();
        new FeatureEncoder(Engine.Spec).Encode(row, x);
        return x;
    }

    private ulong Serve(ImpressionJoiner joiner, RawRow row)
    {
        Span<byte> id = stackalloc byte[17];
        Engine.WriteImpressionId(id);
        var x = Encode(row);
        joiner.Served(id, row, x, Engine.PredictRaw(x));
        CtrEngine.TryParseImpressionId(id, out var bits);
        return bits;
    }

    private static async Task<EventOutcome[]> HandleAsync(ImpressionJoiner joiner, params (EventType Type, ulong Id)[] events)
    {
        var list = new List<JoinEvent>();
        foreach (var (type, id) in events)
        {
            list.Add(new JoinEvent(type, id, true, 0));
        }

        var outcomes = new EventOutcome[list.Count];
        await joiner.HandleAsync(list, outcomes, CancellationToken.None);
        return outcomes;
    }

    private sealed class RecordingSink : IExampleSink
    {
        public List<byte[]> Records { get; } = [];

        /// <summary>When true, appends fail as on a full disk (nothing recorded).</summary>
        public bool DiskFull { get; set; }

        public ValueTask AppendAsync(IReadOnlyList<ReadOnlyMemory<byte>> records, CancellationToken ct)
        {
            if (DiskFull)
            {
                throw new AdCtr.Server.Storage.StorageFaultException(AdCtr.Server.Storage.StorageFaultKind.NoSpace, "append", "test", "no space left (test)", null);
            }

            foreach (var r in records)
            {
                Records.Add(r.ToArray());
            }

            return ValueTask.CompletedTask;
        }
    }
}
