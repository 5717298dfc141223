using AdCtr.Grains.GlobalSync;
using AdCtr.Server.Hosting;

namespace AdCtr.Server.Api;

/// <summary>One silo of the cluster as <c>GET /v1/cluster</c> shows it.</summary>
/// <param name="Address">Silo-to-silo endpoint and generation (Orleans' <c>SiloAddress</c>).</param>
/// <param name="Status">Orleans' membership status: Joining, Active, ShuttingDown, Stopping, Dead ...</param>
/// <param name="ActiveCampaigns">Campaign grains active there now; null when the silo did not answer (not Active).</param>
/// <param name="GlobalSyncLagSeconds">In a cluster, seconds since the silo last exchanged its global model's learning
/// with the others (null: never, or on a single node).</param>
/// <param name="Replicas">In a cluster, the replicas the silo held and the oldest age it served, as it reported them with
/// its last global-model exchange (at most one sync interval old; null before its first).</param>
internal sealed record ClusterSilo(string Address, string Name, string Status, bool IsThisSilo, int? ActiveCampaigns, double? GlobalSyncLagSeconds = null, SiloReport? Replicas = null);

/// <summary>The cluster as the membership table records it.</summary>
/// <param name="Replicas">This silo's replicas of campaigns active on other silos (null on a single node).</param>
/// <param name="GlobalModelVersion">In a cluster, the number of exchanges the global-model grain has taken (null on a single node).</param>
internal sealed record ClusterResponse(string Provider, string ClusterId, string ThisSilo, List<ClusterSilo> Silos, ClusterReplicas? Replicas = null, long? GlobalModelVersion = null);

/// <summary>The answering silo's replicas of remote campaign models (<c>AdCtr.Grains.CampaignReplicas</c>).</summary>
/// <param name="Count">Replicas held.</param>
/// <param name="OldestReadAgeSeconds">Oldest age among the replicas read since the previous refresh pass (the staleness served).</param>
/// <param name="RefreshSeconds">The refresh interval (<c>AdCtr:Cluster:ReplicaRefresh</c>).</param>
internal sealed record ClusterReplicas(int Count, double OldestReadAgeSeconds, double RefreshSeconds, long Fetches, long Refreshes, long RefreshFailures, long Dropped);

/// <summary><c>GET /v1/cluster</c>: the silos, their membership status and the campaign grains active on each.</summary>
internal static class ClusterApi
{
    /// <summary>How Orleans names the campaign grain class in its statistics: "AdCtr.Grains.CampaignGrain,AdCtr.Grains" (seen).</summary>
    private static readonly string CampaignGrainType = typeof(CampaignGrain).FullName + ",";

    public static RouteGroupBuilder MapClusterApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1");
        group.MapGet("/cluster", GetAsync).WithName("Cluster").WithSummary("Silos of the Orleans cluster, their status and active campaign grains");
        return group;
    }

    internal static async Task<IResult> GetAsync(IGrainFactory grains, ILocalSiloDetails local, AdCtrClusterOptions options, Model.CtrEngine engine, TimeProvider time)
    {
        try
        {
            // Orleans' management grain: the membership table's entries and per-silo activation counts
            // (IManagementGrain.GetDetailedHosts / GetSimpleGrainStatistics, Orleans.Core 10.4.2).
            var management = grains.GetGrain<IManagementGrain>(0);
            var hosts = await management.GetDetailedHosts(onlyActive: false).ConfigureAwait(false);
            var active = new List<SiloAddress>();
            foreach (var h in hosts)
            {
                if (h.Status == SiloStatus.Active)
                {
                    active.Add(h.SiloAddress);
                }
            }

            var statistics = await management.GetSimpleGrainStatistics([.. active]).ConfigureAwait(false);
            var sync = options.IsPostgreSql ? await grains.GetGrain<IGlobalModelGrain>(0).GetStatus().ConfigureAwait(false) : null;
            var now = time.GetUtcNow();
            var silos = new List<ClusterSilo>(hosts.Length);
            foreach (var h in hosts)
            {
                int? campaigns = null;
                if (h.Status == SiloStatus.Active)
                {
                    campaigns = 0;
                    foreach (var s in statistics)
                    {
                        if (s.SiloAddress.Equals(h.SiloAddress) && s.GrainType.StartsWith(CampaignGrainType, StringComparison.Ordinal))
                        {
                            campaigns += s.ActivationCount;
                        }
                    }
                }

                var address = h.SiloAddress.ToParsableString();
                double? lag = sync is not null && sync.LastExchange.TryGetValue(address, out var last) ? (now - last).TotalSeconds : null;
                var reported = sync?.Reports is { } reports && reports.TryGetValue(address, out var report) ? report : null;
                silos.Add(new ClusterSilo(address, h.SiloName, h.Status.ToString(), h.SiloAddress.Equals(local.SiloAddress), campaigns, lag, reported));
            }

            silos.Sort(static (a, b) => string.CompareOrdinal(a.Address, b.Address));
            var replicas = engine.Replicas is { } r
                ? new ClusterReplicas(r.Count, r.OldestReadAgeSeconds(), r.RefreshInterval.TotalSeconds, r.Fetches, r.Refreshes, r.RefreshFailures, r.Dropped)
                : null;
            return TypedResults.Ok(new ClusterResponse(options.Provider, options.ClusterId, local.SiloAddress.ToParsableString(), silos, replicas, sync?.Version));
        }
        catch (Exception e) when (GrainFailures.IsUnavailable(e))
        {
            return GrainFailures.Problem(e);
        }
    }
}
