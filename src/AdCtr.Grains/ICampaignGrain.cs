using Orleans.Concurrency;

namespace AdCtr.Grains;

/// <summary>
/// One campaign's model (keyed by campaign id): the single writer of its sparse FTRL-Proximal model and its
/// statistics. Predictions do not call it: they read the silo-local <see cref="CampaignModelView"/> that the
/// grain fills on activation and clears on deactivation.
/// </summary>
[Alias("adctr.campaign")]
public interface ICampaignGrain : IGrainWithStringKey
{
    /// <summary>
    /// Learns this campaign's rows of a batch, in order, in one turn; returns the number learned. Interleaves: in a
    /// cluster a slice that arrives ahead of its predecessors in the journal waits for their calls, which must be able to
    /// run meanwhile. Learning itself never yields (no await inside it), so the grain stays the single writer of its model.
    /// </summary>
    [Alias("learn")]
    [AlwaysInterleave]
    Task<int> Learn(Immutable<CampaignSlice> slice);

    /// <summary>
    /// Does nothing but make sure the grain is active, so that its model is in this silo's view (the predict path
    /// calls it once for a campaign that has a stored model but no active grain).
    /// </summary>
    [Alias("activate")]
    [ReadOnly]
    Task Activate();

    /// <summary>
    /// In a cluster: learns the journal entries this grain has not learned yet (acknowledged batches whose learn call
    /// failed or has not arrived), then returns the summary. On a single node the same as <see cref="GetSummary"/>.
    /// Not read-only: it may learn.
    /// </summary>
    [Alias("sync-summary")]
    Task<CampaignSummary> SyncAndGetSummary();

    /// <summary>Model size and progressive statistics.</summary>
    [Alias("summary")]
    [ReadOnly]
    Task<CampaignSummary> GetSummary();

    /// <summary>The current weights of the given campaign-part coordinates (explain).</summary>
    [Alias("weights")]
    [ReadOnly]
    Task<Immutable<float[]>> GetWeights(Immutable<int[]> indices);

    /// <summary>The whole state in the compact format of <see cref="CampaignStateCodec"/> (snapshots).</summary>
    [Alias("export")]
    [ReadOnly]
    Task<Immutable<byte[]>> Export();

    /// <summary>
    /// In a cluster, a replica for another silo (<see cref="CampaignReplicas"/>): the examples learned and, when they
    /// differ from <paramref name="knownExamples"/> (-1: none known), the state in the compact format; null state when
    /// the caller's replica is current (a refresh of an unchanged campaign moves no model). Read-only: it only reads.
    /// </summary>
    [Alias("replica")]
    [ReadOnly]
    Task<ReplicaUpdate> GetReplica(long knownExamples);

    /// <summary>Replaces model and statistics with encoded state (reload from a snapshot) and stores it.</summary>
    [Alias("restore")]
    Task Restore(Immutable<byte[]> state);

    /// <summary>Asks Orleans to deactivate this grain once the current call completes (its state is stored first).</summary>
    [Alias("deactivate")]
    Task Deactivate();
}

/// <summary>The rows of a batch that belong to one campaign (the batch is shared by every campaign's slice).</summary>
/// <param name="Batch">The whole batch.</param>
/// <param name="Rows">The campaign's row numbers in the batch, in order.</param>
/// <param name="FirstSeq">In a cluster, the campaign journal position of the slice's first row (its rows are at
/// FirstSeq .. FirstSeq + Rows.Length - 1, already durable); 0 on a single node (no journal).</param>
[GenerateSerializer]
[Immutable]
[Alias("adctr.campaign-slice")]
public sealed record CampaignSlice([property: Id(0)] ExampleBatch Batch, [property: Id(1)] int[] Rows, [property: Id(2)] long FirstSeq = 0);

/// <summary>The answer of <see cref="ICampaignGrain.GetReplica"/>.</summary>
/// <param name="Examples">Examples the campaign has learned (its model's version).</param>
/// <param name="State">The state in <see cref="CampaignStateCodec"/>'s format, or null when the caller's replica holds these examples.</param>
[GenerateSerializer]
[Immutable]
[Alias("adctr.replica-update")]
public sealed record ReplicaUpdate([property: Id(0)] long Examples, [property: Id(1)] byte[]? State);

/// <summary>What <c>GET /v1/campaigns/{id}</c> reports.</summary>
[GenerateSerializer]
[Immutable]
[Alias("adctr.campaign-summary")]
public sealed record CampaignSummary(
    [property: Id(0)] string CampaignId,
    [property: Id(1)] long Coefficients,
    [property: Id(2)] long ModelBytes,
    [property: Id(3)] long Examples,
    [property: Id(4)] double Clicks,
    [property: Id(5)] double? LogLoss,
    [property: Id(6)] double? NormalizedEntropy,
    [property: Id(7)] double? CalibrationRatio,
    [property: Id(8)] DateTimeOffset? LastUpdate)
{
    public static CampaignSummary Of(string id, long coefficients, long modelBytes, ProgressiveStats s) => new(
        id,
        coefficients,
        modelBytes,
        s.Examples,
        s.Clicks,
        Finite(s.LogLoss),
        Finite(s.NormalizedEntropy),
        Finite(s.CalibrationRatio),
        s.LastUpdateUnixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(s.LastUpdateUnixMs) : null);

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;
}
