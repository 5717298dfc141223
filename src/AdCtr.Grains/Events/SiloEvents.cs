using Orleans.Concurrency;
using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace AdCtr.Grains.Events;

/// <summary>One impression or click event forwarded to the silo that served its prediction.</summary>
[GenerateSerializer, Immutable]
[Alias("adctr.forwarded-event")]
public readonly struct ForwardedEvent(byte type, ulong idBits, long timestampMs)
{
    /// <summary>0 impression, 1 click (the server's <c>EventType</c>).</summary>
    [Id(0)] public readonly byte Type = type;

    /// <summary>The parsed impression id.</summary>
    [Id(1)] public readonly ulong IdBits = idBits;

    /// <summary>The event's timestamp (Unix ms; 0 when the client gave none).</summary>
    [Id(2)] public readonly long TimestampMs = timestampMs;
}

/// <summary>The serving silo's answer: one outcome per forwarded event, in order, and the examples made.</summary>
[GenerateSerializer, Immutable]
[Alias("adctr.forwarded-events-reply")]
public sealed class ForwardedEventsReply
{
    /// <summary>One outcome per event (the server's <c>EventOutcome</c>), in the order sent.</summary>
    [Id(0)] public byte[] Outcomes { get; init; } = [];

    [Id(1)] public int Positives { get; init; }

    [Id(2)] public int Negatives { get; init; }
}

/// <summary>Applies forwarded events to this silo's impression joiner (implemented by the server).</summary>
public interface ISiloEventsSink
{
    Task<ForwardedEventsReply> ApplyAsync(ForwardedEvent[] events, CancellationToken ct);
}

/// <summary>
/// The events endpoint of one silo, keyed by that silo's address (<see cref="SiloAddress.ToParsableString"/>) and
/// always activated on it (<see cref="SiloKeyedPlacementAttribute"/>): a silo that receives events for predictions
/// another silo served sends them here in one call per serving silo per post.
/// </summary>
[Alias("adctr.silo-events")]
public interface ISiloEventsGrain : IGrainWithStringKey
{
    [Alias("apply")]
    Task<ForwardedEventsReply> Apply(ForwardedEvent[] events);
}

/// <summary>Reentrant: the joiner locks per shard, so posts from several silos are applied concurrently, as local posts are.</summary>
[Reentrant]
[SiloKeyedPlacement]
internal sealed class SiloEventsGrain(ISiloEventsSink sink) : Grain, ISiloEventsGrain
{
    public Task<ForwardedEventsReply> Apply(ForwardedEvent[] events) => sink.ApplyAsync(events, CancellationToken.None);
}

/// <summary>Places a grain on the silo whose address is its string key; fails when that silo is not in the cluster.</summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class SiloKeyedPlacementStrategy : PlacementStrategy
{
    internal static readonly SiloKeyedPlacementStrategy Instance = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloKeyedPlacementAttribute() : PlacementAttribute(SiloKeyedPlacementStrategy.Instance);

/// <summary>The director of <see cref="SiloKeyedPlacementStrategy"/>: the silo named by the key, or an error (never another silo).</summary>
public sealed class SiloKeyedPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = target.GrainIdentity.Key.ToString();
        SiloAddress silo;
        try
        {
            silo = SiloAddress.FromParsableString(key);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException)
        {
            throw new OrleansException("'" + key + "' is not a silo address", e);
        }

        foreach (var s in context.GetCompatibleSilos(target))
        {
            if (s.Equals(silo))
            {
                return Task.FromResult(silo);
            }
        }

        throw new OrleansException("silo " + key + " is not an active member of the cluster");
    }
}
