using System.Net;
using AdCtr.Grains.Events;
using AdCtr.Learning.Features;
using AdCtr.Server.Cluster;
using AdCtr.Server.Hosting;
using AdCtr.Server.Joiner;
using AdCtr.Server.Model;

namespace AdCtr.Server.Tests.Joiner;

/// <summary>
/// Events in a cluster: impression ids name their serving silo (a tag in the salt), and a post is split by serving
/// silo into this silo's events and one call per other silo, merged back in the order posted.
/// </summary>
public sealed class EventRoutingTests
{
    private static readonly SiloAddress SiloX = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 1);
    private static readonly SiloAddress SiloY = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11112), 2);
    private static readonly SiloAddress SiloZ = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11113), 3);

    private static CtrEngine NewEngine(uint? tag)
    {
        var spec = FeatureSpec.Load(Path.Combine(AppContext.BaseDirectory, "config", "features.sim.json")).WithBits(18);
        return new CtrEngine(spec, new ModelOptions { Bits = 18 }, new LimitsOptions(), new CalibrationOptions { Kind = CalibrationKind.None }, TimeProvider.System) { SiloTag = tag };
    }

    private static ulong Issue(CtrEngine engine)
    {
        Span<byte> id = stackalloc byte[17];
        Assert.Equal(17, engine.WriteImpressionId(id));
        Assert.True(CtrEngine.TryParseImpressionId(id, out var bits));
        return bits;
    }

    [Fact]
    public void ImpressionIds_OfATaggedEngine_CarryItsTag_AndAreIssuedByItAlone()
    {
        var tagA = EventForwarder.TagOf(SiloX);
        var tagB = EventForwarder.TagOf(SiloY);
        Assert.NotEqual(tagA, tagB);
        Assert.InRange(tagA, 0u, CtrEngine.MaxSiloTag);
        Assert.Equal(tagA, EventForwarder.TagOf(SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 1))); // a function of the address
        var a = NewEngine(tagA);
        var b = NewEngine(tagB);
        for (var i = 0; i < 1000; i++)
        {
            var fromA = Issue(a);
            var fromB = Issue(b);
            Assert.Equal(tagA, CtrEngine.TagOf(fromA));
            Assert.Equal(tagB, CtrEngine.TagOf(fromB));
            Assert.True(a.WasIssued(fromA));
            Assert.False(a.WasIssued(fromB));
            Assert.True(b.WasIssued(fromB));
            Assert.False(b.WasIssued(fromA));
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => NewEngine(CtrEngine.MaxSiloTag + 1));
    }

    [Fact]
    public async Task HandleAsync_MixedPost_OneCallPerSilo_InPostedOrder_OutcomesMergedInPlace()
    {
        // Ids 0..11: id % 4 == 0 local, 1 silo X, 2 silo Y (whose call fails), 3 dead silo Z.
        var router = new StubRouter();
        var events = Enumerable.Range(0, 12).Select(i => new JoinEvent(i % 2 == 0 ? EventType.Impression : EventType.Click, (ulong)i, true, 1000 + i)).ToList();
        var localSeen = new List<ulong>();
        var outcomes = new EventOutcome[events.Count];

        var (positives, negatives) = await EventRouting.HandleAsync(events, outcomes, (batch, o, _) =>
        {
            for (var k = 0; k < batch.Count; k++)
            {
                localSeen.Add(batch[k].IdBits);
                o[k] = EventOutcome.Accepted;
            }

            return ValueTask.FromResult((1, 2));
        }, router, metrics: null, CancellationToken.None);

        Assert.Equal([0UL, 4, 8], localSeen);
        Assert.Equal(2, router.Calls.Count); // X and Y once each; nothing sent for the dead Z
        var x = Assert.Single(router.Calls, c => c.Silo.Equals(SiloX));
        Assert.Equal([1UL, 5, 9], x.Events.Select(e => e.IdBits));
        Assert.Equal([(byte)EventType.Click, (byte)EventType.Click, (byte)EventType.Click], x.Events.Select(e => e.Type));
        Assert.Equal([1001L, 1005, 1009], x.Events.Select(e => e.TimestampMs));
        Assert.Equal([2UL, 6, 10], Assert.Single(router.Calls, c => c.Silo.Equals(SiloY)).Events.Select(e => e.IdBits));
        for (var i = 0; i < events.Count; i++)
        {
            var expected = (i % 4) switch
            {
                0 => EventOutcome.Accepted,
                1 => i == 5 ? EventOutcome.Duplicate : EventOutcome.ClickWithoutImpression, // X's answers, each at its own event
                _ => EventOutcome.ServingSiloUnavailable,
            };
            Assert.Equal(expected, outcomes[i]);
        }

        Assert.Equal((1 + 10, 2 + 20), (positives, negatives)); // local plus X's
    }

    [Fact]
    public async Task HandleAsync_AllLocal_PassesThePostedListThrough_AndCallsNoSilo()
    {
        var router = new StubRouter();
        var events = new List<JoinEvent> { new(EventType.Impression, 0, true, 0), new(EventType.Click, 4, true, 0) };
        IReadOnlyList<JoinEvent>? seen = null;
        var outcomes = new EventOutcome[2];
        await EventRouting.HandleAsync(events, outcomes, (batch, o, _) =>
        {
            seen = batch;
            o[0] = EventOutcome.Accepted;
            o[1] = EventOutcome.Duplicate;
            return ValueTask.FromResult((0, 0));
        }, router, metrics: null, CancellationToken.None);

        Assert.Same(events, seen);
        Assert.Empty(router.Calls);
        Assert.Equal([EventOutcome.Accepted, EventOutcome.Duplicate], outcomes);
    }

    [Fact]
    public async Task HandleAsync_AReplyOfTheWrongLength_IsUnavailable_NotAnError()
    {
        var router = new StubRouter { ShortReply = true };
        var events = new List<JoinEvent> { new(EventType.Click, 1, true, 0), new(EventType.Click, 5, true, 0) };
        var outcomes = new EventOutcome[2];
        var (positives, _) = await EventRouting.HandleAsync(events, outcomes, (_, _, _) => throw new InvalidOperationException("no local events"), router, metrics: null, CancellationToken.None);

        Assert.Equal([EventOutcome.ServingSiloUnavailable, EventOutcome.ServingSiloUnavailable], outcomes);
        Assert.Equal(0, positives);
    }

    private sealed class StubRouter : IEventRouter
    {
        public List<(SiloAddress Silo, ForwardedEvent[] Events)> Calls { get; } = [];

        public bool ShortReply { get; init; }

        public EventRoute Route(in JoinEvent e, out SiloAddress? silo)
        {
            silo = (e.IdBits % 4) switch { 1 => SiloX, 2 => SiloY, 3 => SiloZ, _ => null };
            return (e.IdBits % 4) switch { 0 => EventRoute.Local, 3 => EventRoute.Unavailable, _ => EventRoute.Remote };
        }

        public Task<ForwardedEventsReply> SendAsync(SiloAddress silo, ForwardedEvent[] events, CancellationToken ct)
        {
            lock (Calls)
            {
                Calls.Add((silo, events));
            }

            if (silo.Equals(SiloY))
            {
                return Task.FromException<ForwardedEventsReply>(new TimeoutException("Y does not answer"));
            }

            var outcomes = events.Select(e => (byte)(e.IdBits == 5 ? EventOutcome.Duplicate : EventOutcome.ClickWithoutImpression)).ToArray();
            return Task.FromResult(new ForwardedEventsReply { Outcomes = ShortReply ? outcomes[..1] : outcomes, Positives = 10, Negatives = 20 });
        }
    }
}
