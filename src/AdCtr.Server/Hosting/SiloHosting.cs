using System.Net;
using System.Net.Sockets;
using AdCtr.Grains.Journal;
using AdCtr.Grains.Storage;
using AdCtr.Server.Cluster;
using AdCtr.Server.Durability;
using AdCtr.Server.Model;
using AdCtr.Learning.Features;
using AdCtr.Server.Storage;
using Orleans.Configuration;

namespace AdCtr.Server.Hosting;

/// <summary>Campaign grains (section <c>AdCtr:Grains</c>).</summary>
public sealed class GrainOptions
{
    public const string SectionName = "AdCtr:Grains";

    /// <summary>An idle campaign grain is deactivated (its state stored) after this long (Orleans' collection age). Default 15 min.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How often Orleans looks for idle grains (its collection quantum). Default 1 min; below <see cref="IdleTimeout"/>.</summary>
    public TimeSpan CollectionInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>A grain call that takes longer fails (the request answers 503). Default 30 s.</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Grain locations each silo caches (Orleans' directory cache, LRU). Orleans' default of 1,000,000 allocates
    /// about 18 MiB up front; 100,000 covers ten times the 10,000 campaigns of the memory test. Default 100,000.
    /// </summary>
    public int DirectoryCacheSize { get; set; } = 100_000;

    internal string? Validate() =>
        IdleTimeout <= TimeSpan.Zero || CollectionInterval <= TimeSpan.Zero || CallTimeout <= TimeSpan.Zero
            ? "AdCtr:Grains: IdleTimeout, CollectionInterval and CallTimeout must be positive"
            : DirectoryCacheSize < 1
                ? "AdCtr:Grains:DirectoryCacheSize must be at least 1"
            : CollectionInterval >= IdleTimeout
                ? "AdCtr:Grains: CollectionInterval (" + CollectionInterval + ") must be shorter than IdleTimeout (" + IdleTimeout + ")"
                : null;
}

/// <summary>The Orleans cluster this server's silo joins (section <c>AdCtr:Cluster</c>).</summary>
public sealed class AdCtrClusterOptions
{
    public const string SectionName = "AdCtr:Cluster";

    /// <summary>
    /// Membership provider: <c>Localhost</c> (the default: one silo, embedded, no external service) or <c>PostgreSql</c>
    /// (Orleans' ADO.NET clustering on the database named by <see cref="ConnectionString"/>).
    /// </summary>
    public string Provider { get; set; } = "Localhost";

    /// <summary>Npgsql connection string of the cluster's database (<c>PostgreSql</c> only). Never logged: it may hold a password.</summary>
    public string? ConnectionString { get; set; }

    internal bool IsPostgreSql => string.Equals(Provider, "PostgreSql", StringComparison.OrdinalIgnoreCase);

    public string ClusterId { get; set; } = "adctr";

    public string ServiceId { get; set; } = "adctr";

    /// <summary>Silo-to-silo port on the advertised address. 0 picks a free port (tests). Default 11111.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port for external Orleans clients; 0 opens none. Default 30000.</summary>
    public int GatewayPort { get; set; } = 30000;

    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// <c>PostgreSql</c> with durability on: a campaign grain writes a checkpoint (its state and the journal position it
    /// holds) once it has learned this many journaled examples since its last one, and at deactivation. An activation
    /// replays at most about this many examples of the journal. Default 10,000.
    /// </summary>
    public long CheckpointEvery { get; set; } = 10_000;

    /// <summary>
    /// <c>PostgreSql</c>: how long a campaign grain lets a learn call that arrived ahead of an earlier journal position
    /// wait for that position's call (in flight from another silo, usually) before it reads the missing entries from
    /// PostgreSQL. 0 reads at once. Default 250 ms.
    /// </summary>
    public TimeSpan GapWait { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Longest wait for one PostgreSQL statement of the journal or the checkpoints. Default 10 s.</summary>
    public TimeSpan JournalTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long <c>/v1/examples</c> keeps retrying the learn calls of a journaled batch whose campaign grain failed (for
    /// example on a silo that died and is not yet declared dead). Past it the batch is answered 202: acknowledged
    /// (durable), learned by the campaign's next call or activation. Default 30 s.
    /// </summary>
    public TimeSpan LearnRetryTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>PostgreSql</c>: how often each silo exchanges what its global model learned with the other silos (through the
    /// global-model grain, one call per silo per interval). Default 1 s.
    /// </summary>
    public TimeSpan GlobalSyncInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Orleans failure detection (<c>ClusterMembershipOptions.ProbeTimeout</c>): period and timeout of the probes a silo
    /// sends its monitored peers. Null keeps Orleans' default (5 s).
    /// </summary>
    public TimeSpan? ProbeTimeout { get; set; }

    /// <summary>
    /// Orleans failure detection (<c>ClusterMembershipOptions.NumMissedProbesLimit</c>): missed probes after which a silo
    /// suspects a peer and votes it dead. Null keeps Orleans' default (3).
    /// </summary>
    public int? NumMissedProbesLimit { get; set; }

    /// <summary>
    /// <c>PostgreSql</c>: how often a silo refreshes its replicas of campaigns active on other silos (one call per replica
    /// per interval, for replicas read within <see cref="ReplicaDropAfter"/>); a prediction is served with a replica at
    /// most about this plus one call old. Default 1 s.
    /// </summary>
    public TimeSpan ReplicaRefresh { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// <c>PostgreSql</c>: a replica no prediction read for this long is dropped (the next read fetches it again); until
    /// then it is refreshed every <see cref="ReplicaRefresh"/>, read or not, so it is never served older than that. Default 30 s.
    /// </summary>
    public TimeSpan ReplicaDropAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary><c>PostgreSql</c>: most replicas a silo keeps; beyond it the least recently read are dropped at each refresh. Default 100,000.</summary>
    public int MaxReplicas { get; set; } = 100_000;

    internal string? Validate() =>
        ReplicaRefresh <= TimeSpan.Zero || ReplicaDropAfter <= TimeSpan.Zero || MaxReplicas < 1
            ? "AdCtr:Cluster: ReplicaRefresh and ReplicaDropAfter must be positive, MaxReplicas at least 1"
            : CheckpointEvery <= 0 || JournalTimeout <= TimeSpan.Zero || GapWait < TimeSpan.Zero || LearnRetryTimeout < TimeSpan.Zero || ProbeTimeout <= TimeSpan.Zero || NumMissedProbesLimit <= 0 || GlobalSyncInterval <= TimeSpan.Zero
            ? "AdCtr:Cluster: CheckpointEvery, JournalTimeout, GlobalSyncInterval, ProbeTimeout and NumMissedProbesLimit must be positive, LearnRetryTimeout and GapWait not negative"
            : ValidateEndpoints();

    private string? ValidateEndpoints() =>
        !string.Equals(Provider, "Localhost", StringComparison.OrdinalIgnoreCase) && !IsPostgreSql
            ? "AdCtr:Cluster:Provider '" + Provider + "' is not supported; use Localhost or PostgreSql"
            : IsPostgreSql && string.IsNullOrWhiteSpace(ConnectionString)
                ? "AdCtr:Cluster:ConnectionString is required with Provider PostgreSql"
            : SiloPort is < 0 or > 65535 || GatewayPort is < 0 or > 65535
                ? "AdCtr:Cluster: SiloPort and GatewayPort must be in 0..65535"
                : !IPAddress.TryParse(AdvertisedAddress, out _)
                    ? "AdCtr:Cluster:AdvertisedAddress '" + AdvertisedAddress + "' is not an IP address"
                    : string.IsNullOrWhiteSpace(ClusterId) || string.IsNullOrWhiteSpace(ServiceId)
                        ? "AdCtr:Cluster: ClusterId and ServiceId must not be empty"
                        : null;
}

/// <summary>Makes the server an Orleans silo co-hosted with ASP.NET Core, with the campaign grains.</summary>
internal static class SiloHosting
{
    public static TBuilder AddAdCtrSilo<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        var configuration = builder.Configuration;
        var cluster = configuration.GetSection(AdCtrClusterOptions.SectionName).Get<AdCtrClusterOptions>() ?? new AdCtrClusterOptions();
        var grains = configuration.GetSection(GrainOptions.SectionName).Get<GrainOptions>() ?? new GrainOptions();
        if ((cluster.Validate() ?? grains.Validate()) is { } error)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException(AdCtrClusterOptions.SectionName, typeof(AdCtrClusterOptions), [error]);
        }

        builder.Services.AddSingleton(grains);
        builder.Services.AddSingleton(cluster);
        var durable = configuration.GetSection(DurabilityOptions.SectionName).GetValue(nameof(DurabilityOptions.Enabled), true);
        var journaled = cluster.IsPostgreSql && durable;
        if (cluster.IsPostgreSql)
        {
            // Registered before UseOrleans so that it starts (hosted services start in order) before the silo joins.
            builder.Services.AddHostedService(_ => new PostgreSqlSchema(cluster.ConnectionString!));

            // /v1/events sends events to the silo that served their prediction (EventForwarder, AdCtr.Grains.Events).
            builder.Services.AddSingleton(sp => new EventForwarder(
                sp.GetRequiredService<CtrEngine>(),
                sp.GetRequiredService<IClusterMembershipService>(),
                sp.GetRequiredService<IGrainFactory>(),
                sp.GetRequiredService<ILocalSiloDetails>().SiloAddress,
                grains.CallTimeout));

            // Each silo's global model learns what the others learned (AdCtr.Grains.GlobalSync).
            builder.Services.AddSingleton<GlobalSyncService>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<GlobalSyncService>());

            // Replicas of campaigns active on other silos (the engine makes them; AdCtr.Grains CampaignReplicas): refreshed
            // every ReplicaRefresh on the server's clock.
            builder.Services.AddSingleton(sp => new ReplicaRefresher(sp.GetRequiredService<CtrEngine>().Replicas!));
            builder.Services.AddHostedService(static sp => sp.GetRequiredService<ReplicaRefresher>());
        }

        if (journaled)
        {
            // Durability in a cluster is PostgreSQL's, not a data directory's: the example journal and the campaign
            // checkpoints (AdCtr.Server.Cluster); the single-node log and snapshots are not used.
            builder.Services.AddSingleton(_ => new PostgreSqlJournal(cluster.ConnectionString!, cluster.JournalTimeout));
            builder.Services.AddHostedService<JournalHealthProbe>();
        }

        var siloPort = cluster.SiloPort == 0 ? FreeLoopbackPort() : cluster.SiloPort;
        var dataPath = configuration.GetSection(StorageOptions.SectionName).GetValue(nameof(StorageOptions.Path), "./data")!;
        builder.UseOrleans(silo =>
        {
            if (cluster.IsPostgreSql)
            {
                // Orleans' ADO.NET membership with the "Npgsql" invariant (docs: Orleans.Clustering.AdoNet README); the
                // tables and queries are PostgreSqlSchema's. Orleans does membership, failure detection and placement.
                silo.UseAdoNetClustering(o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = cluster.ConnectionString;
                });
                silo.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = cluster.ClusterId;
                    o.ServiceId = cluster.ServiceId;
                });
                silo.ConfigureEndpoints(IPAddress.Parse(cluster.AdvertisedAddress), siloPort, cluster.GatewayPort, listenOnAnyHostAddress: false);

                // Failure detection: a silo is declared dead after NumMissedProbesLimit missed probes of ProbeTimeout each
                // (and enough votes); left at Orleans' defaults (5 s, 3) unless configured.
                silo.Configure<ClusterMembershipOptions>(o =>
                {
                    if (cluster.ProbeTimeout is { } probe)
                    {
                        o.ProbeTimeout = probe;
                    }

                    if (cluster.NumMissedProbesLimit is { } missed)
                    {
                        o.NumMissedProbesLimit = missed;
                    }
                });
            }
            else
            {
                silo.UseLocalhostClustering(siloPort, cluster.GatewayPort, null, cluster.ServiceId, cluster.ClusterId);
                silo.Configure<EndpointOptions>(o => o.AdvertisedIPAddress = IPAddress.Parse(cluster.AdvertisedAddress));
            }

            silo.Configure<GrainCollectionOptions>(o =>
            {
                o.CollectionAge = grains.IdleTimeout;
                o.CollectionQuantum = grains.CollectionInterval;
            });
            silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = grains.CallTimeout);
            silo.Configure<GrainDirectoryOptions>(o => o.CacheSize = grains.DirectoryCacheSize);
            silo.Services.AddCampaignGrains(
                _ => durable && !journaled ? new CampaignGrainStorage(Path.Combine(dataPath, "grains", "campaigns")) : new CampaignGrainStorage(TemporaryGrainDirectory(), deleteOnDispose: true),
                sp => sp.GetRequiredService<CtrEngine>().Silo,
                journaled
                    ? (sp => new CampaignDurability(sp.GetRequiredService<PostgreSqlJournal>(), cluster.CheckpointEvery, cluster.GapWait), sp => new PostgreSqlCampaignStorage(sp.GetRequiredService<PostgreSqlJournal>()))
                    : null);
        });
        return builder;
    }

    /// <summary>With durability off nothing is kept across runs: campaign states go to a directory of this process's own.</summary>
    private static string TemporaryGrainDirectory() => Directory.CreateTempSubdirectory("adctr-grains-").FullName;

    /// <summary>
    /// A loopback port for a silo of a test (<c>SiloPort=0</c>). Taken from 20000-32767, below Linux's ephemeral range
    /// (32768-60999), so that outgoing connections cannot take it between this check and the silo's bind; a counter
    /// from a random start keeps the silos of one process apart, and the port must be free to bind now.
    /// </summary>
    internal static int FreeLoopbackPort()
    {
        for (var attempt = 0; attempt < 2000; attempt++)
        {
            var port = 20000 + (int)((uint)Interlocked.Increment(ref _nextPort) % 12768);
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
                // In use: the next one.
            }
        }

        throw new InvalidOperationException("no free loopback port for the silo in 20000-32767");
    }

    private static int _nextPort = Random.Shared.Next(12768);
}

/// <summary>
/// A silo with an engine and the campaign grains, without HTTP, durability or the joiner: for tests and benchmarks of
/// what sits on the engine (the joiner, replay). Durability off: campaign states go to a temporary directory.
/// </summary>
internal sealed class EngineHost : IAsyncDisposable
{
    private readonly IHost _host;

    private EngineHost(IHost host) => _host = host;

    public CtrEngine Engine => _host.Services.GetRequiredService<CtrEngine>();

    public IServiceProvider Services => _host.Services;

    public static async Task<EngineHost> StartAsync(FeatureSpec spec, ModelOptions model, LimitsOptions limits, CalibrationOptions calibration, TimeProvider time)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AdCtr:Cluster:SiloPort"] = "0",
            ["AdCtr:Cluster:GatewayPort"] = "0",
            ["AdCtr:Durability:Enabled"] = "false",
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddAdCtrSilo();
        builder.Services.AddSingleton(sp => new CtrEngine(spec, model, limits, calibration, time, sp.GetRequiredService<IGrainFactory>(), sp.GetRequiredService<CampaignGrainStorage>()));
        var host = builder.Build();
        await host.StartAsync().ConfigureAwait(false);
        return new EngineHost(host);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync().ConfigureAwait(false);
        _host.Dispose();
    }
}
