using AdCtr.Grains.Events;
using AdCtr.Server.Joiner;
using AdCtr.Server.Model;

namespace AdCtr.Server.Cluster;

/// <summary>Where an event goes: this silo's joiner, the joiner of the silo that served it, or nowhere (that silo is dead).</summary>
internal enum EventRoute
{
    Local,
    Remote,
    Unavailable,
}

/// <summary>Routes events to the silo that served their prediction (<see cref="EventForwarder"/>; a stub in tests).</summary>
internal interface IEventRouter
{
    /// <summary>The route of one event; <paramref name="silo"/> is the serving silo when <see cref="EventRoute.Remote"/>.</summary>
    EventRoute Route(in JoinEvent e, out SiloAddress? silo);

    /// <summary>Applies <paramref name="events"/> on <paramref name="silo"/>'s joiner (one call); faults when it cannot.</summary>
    Task<ForwardedEventsReply> SendAsync(SiloAddress silo, ForwardedEvent[] events, CancellationToken ct);
}

/// <summary>
/// Splits a post of events by serving silo: events for predictions this silo served go to its joiner as before;
/// the others go in one call per serving silo (in parallel) to that silo's <see cref="ISiloEventsGrain"/>. The
/// outcomes are merged back in the order posted. A serving silo that is dead or whose call fails gives its events
/// <see cref="EventOutcome.ServingSiloUnavailable"/>, never an error of the whole post.
/// </summary>
internal static class EventRouting
{
    public delegate ValueTask<(int Positives, int Negatives)> LocalHandler(IReadOnlyList<JoinEvent> events, EventOutcome[] outcomes, CancellationToken ct);

    public static async ValueTask<(int Positives, int Negatives)> HandleAsync(
        List<JoinEvent> events,
        EventOutcome[] outcomes,
        LocalHandler local,
        IEventRouter? router,
        JoinerMetrics? metrics,
        CancellationToken ct)
    {
        if (router is null)
        {
            return await local(events, outcomes, ct).ConfigureAwait(false);
        }

        Dictionary<SiloAddress, List<int>>? remote = null;
        var anyUnavailable = false;
        var routes = new EventRoute[events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            routes[i] = router.Route(events[i], out var silo);
            if (routes[i] == EventRoute.Remote)
            {
                remote ??= [];
                if (!remote.TryGetValue(silo!, out var indices))
                {
                    remote[silo!] = indices = [];
                }

                indices.Add(i);
            }
            else if (routes[i] == EventRoute.Unavailable)
            {
                anyUnavailable = true;
            }
        }

        if (remote is null && !anyUnavailable)
        {
            return await local(events, outcomes, ct).ConfigureAwait(false);
        }

        // The remote calls start first and run while this silo applies its own events.
        var calls = new List<(List<int> Indices, Task<ForwardedEventsReply?> Reply)>();
        foreach (var (silo, indices) in remote ?? [])
        {
            var forwarded = new ForwardedEvent[indices.Count];
            for (var k = 0; k < indices.Count; k++)
            {
                var e = events[indices[k]];
                forwarded[k] = new ForwardedEvent((byte)e.Type, e.IdBits, e.TimestampMs);
            }

            calls.Add((indices, SendAsync(router, silo, forwarded, ct)));
        }

        var localIndices = new List<int>();
        var localEvents = new List<JoinEvent>();
        for (var i = 0; i < events.Count; i++)
        {
            if (routes[i] == EventRoute.Local)
            {
                localIndices.Add(i);
                localEvents.Add(events[i]);
            }
            else if (routes[i] == EventRoute.Unavailable)
            {
                outcomes[i] = EventOutcome.ServingSiloUnavailable;
                metrics?.Event(events[i].Type, EventOutcome.ServingSiloUnavailable);
            }
        }

        int positives = 0, negatives = 0;
        if (localEvents.Count > 0)
        {
            var localOutcomes = new EventOutcome[localEvents.Count];
            (positives, negatives) = await local(localEvents, localOutcomes, ct).ConfigureAwait(false);
            for (var k = 0; k < localIndices.Count; k++)
            {
                outcomes[localIndices[k]] = localOutcomes[k];
            }
        }

        foreach (var (indices, call) in calls)
        {
            var reply = await call.ConfigureAwait(false);
            for (var k = 0; k < indices.Count; k++)
            {
                var outcome = reply is null ? EventOutcome.ServingSiloUnavailable : (EventOutcome)reply.Outcomes[k];
                outcomes[indices[k]] = outcome;
                if (reply is null)
                {
                    metrics?.Event(events[indices[k]].Type, outcome);
                }
            }

            if (reply is not null)
            {
                positives += reply.Positives;
                negatives += reply.Negatives;
            }
        }

        return (positives, negatives);
    }

    /// <summary>The serving silo's reply, or null when the call failed or answered something malformed (never throws).</summary>
    private static async Task<ForwardedEventsReply?> SendAsync(IEventRouter router, SiloAddress silo, ForwardedEvent[] events, CancellationToken ct)
    {
        try
        {
            var reply = await router.SendAsync(silo, events, ct).ConfigureAwait(false);
            if (reply.Outcomes.Length != events.Length)
            {
                return null;
            }

            foreach (var o in reply.Outcomes)
            {
                if (!Enum.IsDefined((EventOutcome)o))
                {
                    return null;
                }
            }

            return reply;
        }
        catch (Exception)
        {
            return null;
        }
    }
}

/// <summary>
/// The cluster's <see cref="IEventRouter"/>: an impression id's silo tag (<see cref="CtrEngine.TagOf"/>) names the
/// serving silo among the membership's silos (each tag is a hash of the silo's address, generation included, so a
/// restarted silo has a new one); its <see cref="ISiloEventsGrain"/> is activated on it.
/// </summary>
internal sealed class EventForwarder(CtrEngine engine, IClusterMembershipService membership, IGrainFactory grains, SiloAddress local, TimeSpan timeout) : IEventRouter
{
    private readonly uint _localTag = TagOf(local);
    private volatile TagTable? _tags;

    /// <summary>A silo's tag: 20 bits of an FNV-1a hash of its address (host, port and generation).</summary>
    public static uint TagOf(SiloAddress silo)
    {
        var h = 0xCBF29CE484222325UL;
        foreach (var c in silo.ToParsableString())
        {
            h = (h ^ c) * 0x100000001B3UL;
        }

        return (uint)(h ^ (h >> 20) ^ (h >> 40)) & CtrEngine.MaxSiloTag;
    }

    public EventRoute Route(in JoinEvent e, out SiloAddress? silo)
    {
        silo = null;
        if (!e.IdValid || engine.WasIssued(e.IdBits))
        {
            return EventRoute.Local;
        }

        var tag = CtrEngine.TagOf(e.IdBits);
        if (tag == _localTag)
        {
            return EventRoute.Local; // served here but expired from memory or never issued: the joiner says which
        }

        var snapshot = membership.CurrentSnapshot;
        var table = _tags;
        if (table is null || table.Version != snapshot.Version)
        {
            table = new TagTable(snapshot);
            _tags = table;
        }

        if (!table.Silos.TryGetValue(tag, out var member))
        {
            return EventRoute.Local; // no silo of the cluster has this tag: the joiner says unknown_impression
        }

        if (member.Status == SiloStatus.Dead)
        {
            return EventRoute.Unavailable;
        }

        silo = member.SiloAddress;
        return EventRoute.Remote;
    }

    public Task<ForwardedEventsReply> SendAsync(SiloAddress silo, ForwardedEvent[] events, CancellationToken ct) =>
        grains.GetGrain<ISiloEventsGrain>(silo.ToParsableString()).Apply(events).WaitAsync(timeout, ct);

    private sealed class TagTable
    {
        public TagTable(ClusterMembershipSnapshot snapshot)
        {
            Version = snapshot.Version;
            foreach (var (address, member) in snapshot.Members)
            {
                var tag = TagOf(address);
                // Two silos with one tag (about 1 in 2^20 per pair): the live one wins.
                if (!Silos.TryGetValue(tag, out var other) || other.Status == SiloStatus.Dead)
                {
                    Silos[tag] = member;
                }
            }
        }

        public MembershipVersion Version { get; }

        public Dictionary<uint, ClusterMember> Silos { get; } = [];
    }
}

/// <summary>Applies events forwarded by other silos to this silo's joiner.</summary>
internal sealed class SiloEventsSink(ImpressionJoiner joiner) : ISiloEventsSink
{
    public async Task<ForwardedEventsReply> ApplyAsync(ForwardedEvent[] events, CancellationToken ct)
    {
        var list = new JoinEvent[events.Length];
        for (var i = 0; i < events.Length; i++)
        {
            if (events[i].Type > (byte)EventType.Click)
            {
                throw new ArgumentException("event type " + events[i].Type + " is neither impression nor click", nameof(events));
            }

            list[i] = new JoinEvent((EventType)events[i].Type, events[i].IdBits, true, events[i].TimestampMs);
        }

        var outcomes = new EventOutcome[events.Length];
        var (positives, negatives) = await joiner.HandleAsync(list, outcomes, ct).ConfigureAwait(false);
        var bytes = new byte[outcomes.Length];
        for (var i = 0; i < outcomes.Length; i++)
        {
            bytes[i] = (byte)outcomes[i];
        }

        return new ForwardedEventsReply { Outcomes = bytes, Positives = positives, Negatives = negatives };
    }
}
