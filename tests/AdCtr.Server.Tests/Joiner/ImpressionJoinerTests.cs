using AdCtr.Learning.Features;
using AdCtr.Server.Hosting;
using AdCtr.Server.Joiner;
using AdCtr.Server.Model;
using AdCtr.Server.Tests.Storage;

namespace AdCtr.Server.Tests.Joiner;

/// <summary>
/// The joiner with a controlled clock (no timer: sweeps are called by the test) over a real engine without a
/// log. Examples learned are observed through the engine's count and progressive statistics, whose Weight sums
/// the importance weights and Clicks the weights of positives.
/// </summary>
public sealed class ImpressionJoinerTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 1, 5, 12, 0, 0, TimeSpan.Zero);
    private readonly ManualTimeProvider _time = new(Start);
    private EngineHost _host = null!;

    private CtrEngine Engine => _host.Engine;

    public async Task InitializeAsync()
    {
        // A real silo with the campaign grains: the joiner's examples are learned through them, as in the server.
        var spec = FeatureSpec.Load(Path.Combine(AppContext.BaseDirectory, "config", "features.sim.json")).WithBits(18);
        _host = await EngineHost.StartAsync(spec, new ModelOptions { Bits = 18 }, new LimitsOptions(), new CalibrationOptions { Kind = CalibrationKind.None }, _time);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Wait_ClickInWindow_LearnsOnePositiveAtOnce()
    {
        var joiner = NewJoiner(JoinerOptions.WaitPolicy);
        var id = Serve(joiner, "c1");

        var outcomes = await HandleAsync(joiner, (EventType.Impression, id), (EventType.Click, id));

        Assert.Equal([EventOutcome.Accepted, EventOutcome.Accepted], outcomes);
        Assert.Equal(1, Engine.ExamplesLearned);
        Assert.Equal(1.0, Engine.GlobalStatistics().Clicks);
    }

    [Fact]
    public async Task Wait_WindowExpiresUnclicked_LearnsOneNegativeAtSweepOnly()
    {
        var joiner = NewJoiner(JoinerOptions.WaitPolicy);
        var id = Serve(joiner, "c1");
        await HandleAsync(joiner, (EventType.Impression, id));

        _time.Advance(TimeSpan.FromMinutes(15) - TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, await joiner.SweepAsync()); // 1 ms before the window ends: still pending
        _time.Advance(TimeSpan.FromMilliseconds(1));
        var negatives = await joiner.SweepAsync();

        Assert.Equal(1, negatives);
        Assert.Equal(1, Engine.ExamplesLearned);
        Assert.Equal(0.0, Engine.GlobalStatistics().Clicks);
        Assert.Equal(0, joiner.PendingCount);
    }

    [Fact]
    public async Task Wait_ServedButNeverImpressed_LearnsNothing()
    {
        var joiner = NewJoiner(JoinerOptions.WaitPolicy);
        Serve(joiner, "c1");

        _time.Advance(TimeSpan.FromMinutes(16));
        await joiner.SweepAsync();

        Assert.Equal(0, Engine.ExamplesLearned);
        Assert.Equal(1, joiner.Statistics().ExpiredWithoutImpression);
    }

    [Fact]
    public async Task LateClick_AfterWindow_IsCountedAndNotLearned()
    {
        var joiner = NewJoiner(JoinerOptions.WaitPolicy);
        var id = Serve(joiner, "c1");
        await HandleAsync(joiner, (EventType.Impression, id));

        _time.Advance(TimeSpan.FromMinutes(15));
        // Before the sweep ran: the window has passed all the same.
        var beforeSweep = await HandleAsync(joiner, (EventType.Click, id));
        await joiner.SweepAsync();
        var afterSweep = await HandleAsync(joiner, (EventType.Click, id));

        Assert.Equal([EventOutcome.ClickAfterWindow], beforeSweep);
        Assert.Equal([EventOutcome.ClickAfterWindow], afterSweep);
        Assert.Equal(1, Engine.ExamplesLearned); // the negative of the expired impression only
        Assert.Equal(0.0, Engine.GlobalStatistics().Clicks);
        Assert.Equal(2, joiner.Statistics().Events[EventOutcome.ClickAfterWindow]);
    }

    [Fact]
    public async Task DuplicateEvents_AreIdempotent()
    {
        var joiner = NewJoiner(JoinerOptions.WaitPolicy);
        var id = Serve(joiner, "c1");

        var outcomes = await HandleAsync(joiner, (EventType.Impression, id), (EventType.Impression, id), (EventType.Click, id), (EventType.Click, id));
        _time.Advance(TimeSpan.FromMinutes(16));
        await joiner.SweepAsync();

        Assert.Equal([EventOutcome.Accepted, EventOutcome.Duplicate, EventOutcome.Accepted, EventOutcome.Duplicate], outcomes);
        Assert.Equal(1, Engine.ExamplesLearned); // one positive; the clicked impression makes no negative
    }

    [Fact]
    public async Task ClickWithoutImpression_AndUnknownIds_AreCountedPerReason()
    {
        var joiner = NewJoiner(JoinerOptions.WaitPolicy);
        var id = Serve(joiner, "c1");
        var neverServed = Issue() ^ 1UL; // a valid-looking id this process did not issue

        var outcomes = await HandleAsync(joiner, (EventType.Click, id), (EventType.Click, neverServed), (EventType.Impression, neverServed));

        Assert.Equal([EventOutcome.ClickWithoutImpression, EventOutcome.UnknownImpression, EventOutcome.UnknownImpression], outcomes);
        Assert.Equal(0, Engine.ExamplesLearned);
    }

    [Fact]
    public async Task FakeNegative_ImpressionThenClick_LearnsWeightedNegativeAndPositive()
    {
        var joiner = NewJoiner(JoinerOptions.FakeNegativePolicy);
        var id = Serve(joiner, "c1");

        await HandleAsync(joiner, (EventType.Impression, id));
        // A fresh model predicts sigmoid(0) = 0.5, so the FNW negative weight is (1 - 0.5)(1 + 0.5) = 0.75.
        Assert.Equal(1, Engine.ExamplesLearned);
        Assert.Equal(0.75, Engine.GlobalStatistics().Weight, 12);

        var p = Engine.PredictRaw(Encode("c1")); // the model after the negative: the click's weight is 1 + p
        await HandleAsync(joiner, (EventType.Click, id));
        _time.Advance(TimeSpan.FromMinutes(16));
        await joiner.SweepAsync(); // no further negative under fake-negative

        var stats = Engine.GlobalStatistics();
        Assert.Equal(2, Engine.ExamplesLearned);
        // Weights are stored as float: relative rounding below 1e-7.
        Assert.Equal(1 + p, stats.Clicks, 6);
        Assert.Equal(0.75 + 1 + p, stats.Weight, 6);
    }

    [Fact]
    public async Task MemoryBound_WhenFull_ExpiresOldestEarlyAndCountsIt()
    {
        // 16 shards of 1 entry each: ids land in shards by their low 4 bits, so serving 200 predictions evicts
        // all but at most 16 of them.
        var joiner = NewJoiner(JoinerOptions.WaitPolicy, maxPending: 16);
        var first = Serve(joiner, "c1");
        await HandleAsync(joiner, (EventType.Impression, first));
        for (var i = 0; i < 199; i++)
        {
            Serve(joiner, "c1");
        }

        var stats = joiner.Statistics();
        Assert.InRange(joiner.PendingCount, 1, 16);
        Assert.Equal(200 - joiner.PendingCount, stats.ExpiredEarly);
        // The impressed one was evicted (its shard received later entries) unless it is still pending.
        var click = await HandleAsync(joiner, (EventType.Click, first));
        await joiner.SweepAsync();
        Assert.Equal([EventOutcome.ClickAfterWindow], click);
        Assert.Equal(1, Engine.ExamplesLearned); // the evicted impression became a negative at the sweep
    }

    [Fact]
    public async Task NegativeDownsampling_KeepsAboutRateWithWeightOneOverRate()
    {
        const double rate = 0.25;
        const int n = 4000;
        var joiner = NewJoiner(JoinerOptions.WaitPolicy, maxPending: 2 * n, negativeRate: rate);
        var events = new List<(EventType, ulong)>();
        for (var i = 0; i < n; i++)
        {
            events.Add((EventType.Impression, Serve(joiner, "c1")));
        }

        await HandleAsync(joiner, [.. events]);
        _time.Advance(TimeSpan.FromMinutes(16));
        var kept = await joiner.SweepAsync();

        // Binomial(4000, 0.25): mean 1000, sd 27.4; 6 sd = +-165 (ids are fixed by the engine's random salt, so this
        // bound, not an exact count, is what can be asserted).
        Assert.InRange(kept, 835, 1165);
        Assert.Equal(n - kept, joiner.Statistics().NegativesDownsampled);
        Assert.Equal(kept / rate, Engine.GlobalStatistics().Weight, 6); // each kept negative weighs 1/r = 4
    }

    [Fact]
    public void ImpressionIds_IssuedByEngine_AreRecognisedAndOthersAreNot()
    {
        Span<byte> id = stackalloc byte[17];
        for (var i = 0; i < 1000; i++)
        {
            Engine.WriteImpressionId(id);
            Assert.True(CtrEngine.TryParseImpressionId(id, out var bits));
            Assert.True(Engine.WasIssued(bits));
            // Flipping any bit gives an id whose inverse is a counter far outside 1..1000 (the mix is a bijection
            // that scatters neighbours), with probability 1 - 1000/2^64 each.
            Assert.False(Engine.WasIssued(bits ^ (1UL << (i % 64))));
        }

        Assert.False(CtrEngine.TryParseImpressionId("x0000000000000000"u8, out _));
        Assert.False(CtrEngine.TryParseImpressionId("i000000000000000G"u8, out _));
        Assert.False(CtrEngine.TryParseImpressionId("i00"u8, out _));
    }

    private ImpressionJoiner NewJoiner(string policy, int maxPending = 1000, double negativeRate = 1.0) =>
        new(Engine, new ExampleIngestor(Engine), new JoinerOptions { Policy = policy, MaxPending = maxPending }, negativeRate, _time, startTimer: false);

    private ulong Issue()
    {
        Span<byte> id = stackalloc byte[17];
        Engine.WriteImpressionId(id);
        CtrEngine.TryParseImpressionId(id, out var bits);
        return bits;
    }

    /// <summary>Serves one prediction of campaign <paramref name="campaign"/> to the joiner; returns its id.</summary>
    private ulong Serve(ImpressionJoiner joiner, string campaign)
    {
        Span<byte> id = stackalloc byte[17];
        Engine.WriteImpressionId(id);
        var spec = Engine.Spec;
        var row = new RawRow(spec.Fields.Length);
        row.Set(spec.IndexOf("campaignId"), campaign);
        row.Set(spec.IndexOf("adId"), campaign + "-a1");
        row.Set(spec.IndexOf("user_age"), "18-24");
        var x = Encode(campaign);
        joiner.Served(id, row, x, Engine.PredictRaw(x));
        CtrEngine.TryParseImpressionId(id, out var bits);
        return bits;
    }

    private EncodedExample Encode(string campaign)
    {
        var spec = Engine.Spec;
        var row = new RawRow(spec.Fields.Length);
        row.Set(spec.IndexOf("campaignId"), campaign);
        row.Set(spec.IndexOf("adId"), campaign + "-a1");
        row.Set(spec.IndexOf("user_age"), "18-24");
        var x = new EncodedExample();
        new FeatureEncoder(spec).Encode(row, x);
        return x;
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
}
