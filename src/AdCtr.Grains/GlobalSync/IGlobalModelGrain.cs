using AdCtr.Learning.Ftrl;
using Orleans.Concurrency;

namespace AdCtr.Grains.GlobalSync;

/// <summary>
/// The meeting point of the silos' global models in a cluster (issue 11): one activation (key 0). Every silo learns
/// into its own copy of the global model and sends what it learned since its last exchange as per-coordinate sums of
/// FTRL terms (<see cref="GlobalDelta"/>: z and n are sums of per-example terms, McMahan et al. 2013, so sums from
/// several silos add up); the grain adds them to its table and answers with the other silos' sums since the caller's
/// cursor. A silo that joins (or that the grain no longer has a cursor for) gets the whole table instead.
/// </summary>
[Alias("adctr.global-model")]
public interface IGlobalModelGrain : IGrainWithIntegerKey
{
    [Alias("exchange")]
    Task<GlobalSyncReply> Exchange(GlobalSyncRequest request);

    /// <summary>Sets the table of a grain that has learned nothing yet (it lost its state) from a silo's copy.</summary>
    [Alias("set-base")]
    Task SetBase(string silo, Immutable<float[]> state);

    /// <summary>When each silo last exchanged (for <c>GET /v1/cluster</c>).</summary>
    [Alias("status")]
    [ReadOnly]
    Task<GlobalSyncStatus> GetStatus();
}

/// <summary>Per-coordinate sums of FTRL terms (unique coordinates, ascending).</summary>
[GenerateSerializer]
[Immutable]
[Alias("adctr.global-delta")]
public sealed record GlobalDelta([property: Id(0)] int[] Indices, [property: Id(1)] float[] Dz, [property: Id(2)] float[] Dn)
{
    public static readonly GlobalDelta Empty = new([], [], []);

    public int Count => Indices.Length;

    public static GlobalDelta Of(FtrlDeltas sums) => sums.Count == 0 ? Empty : new(sums.Indices.ToArray(), sums.Dz.ToArray(), sums.Dn.ToArray());

    public FtrlDeltas ToDeltas() => FtrlDeltas.From(Indices, Dz, Dn, Indices.Length);
}

/// <param name="Silo">The caller's silo address (who pushed what).</param>
/// <param name="Epoch">The grain activation the caller's cursor belongs to; <see cref="Guid.Empty"/> before the first exchange.</param>
/// <param name="Cursor">The last version of the grain the caller holds.</param>
/// <param name="Push">What the caller learned since its last exchange.</param>
/// <param name="Bits">The caller's global model size (all silos must agree).</param>
/// <param name="Report">What the caller reports about itself for <c>GET /v1/cluster</c> (its replicas), or null.</param>
[GenerateSerializer]
[Immutable]
[Alias("adctr.global-sync-request")]
public sealed record GlobalSyncRequest(
    [property: Id(0)] string Silo, [property: Id(1)] Guid Epoch, [property: Id(2)] long Cursor, [property: Id(3)] GlobalDelta Push, [property: Id(4)] int Bits,
    [property: Id(5)] SiloReport? Report = null);

/// <summary>A silo's replicas as of its last exchange (sent with it, so <c>GET /v1/cluster</c> on any silo shows every silo's).</summary>
/// <param name="Replicas">Replicas of campaigns active on other silos that the silo holds.</param>
/// <param name="OldestReplicaAgeSeconds">Oldest age among the replicas it served since its previous refresh pass.</param>
[GenerateSerializer]
[Immutable]
[Alias("adctr.silo-report")]
public sealed record SiloReport([property: Id(0)] int Replicas, [property: Id(1)] double OldestReplicaAgeSeconds);

/// <param name="Others">The other silos' sums since the caller's cursor (null when <paramref name="Full"/> is sent).</param>
/// <param name="Full">The whole table, (z, n) interleaved, for a caller that joins or whose cursor the grain no longer
/// has; it includes the caller's push.</param>
/// <param name="NeedsBase">The grain lost its state (a new activation) and the caller had synced before: the caller
/// sends its table with <see cref="IGlobalModelGrain.SetBase"/>; its push was not taken.</param>
[GenerateSerializer]
[Immutable]
[Alias("adctr.global-sync-reply")]
public sealed record GlobalSyncReply(
    [property: Id(0)] Guid Epoch, [property: Id(1)] long Cursor, [property: Id(2)] GlobalDelta? Others, [property: Id(3)] float[]? Full, [property: Id(4)] bool NeedsBase);

[GenerateSerializer]
[Immutable]
[Alias("adctr.global-sync-status")]
public sealed record GlobalSyncStatus(
    [property: Id(0)] long Version, [property: Id(1)] IReadOnlyDictionary<string, DateTimeOffset> LastExchange, [property: Id(2)] IReadOnlyDictionary<string, SiloReport>? Reports = null);
