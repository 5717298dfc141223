using System.Text.Json;
using System.Text.Json.Serialization;
using AdCtr.Server.Api;
using AdCtr.Server.Hosting;
using AdCtr.Server.Joiner;
using AdCtr.Server.Model;
using AdCtr.Server.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace AdCtr.Server.Durability;

/// <summary>Registers and maps the joiner (<c>/v1/events</c>), durability (log, snapshots, recovery) and the admin API.</summary>
internal static partial class DurabilityHosting
{
    /// <summary>
    /// Registers the options, the ingestion gate and example-log sink, the joiner, and the durability hosted
    /// service. Call before the engine's own hosted service, so recovery finishes before the server reports ready.
    /// </summary>
    public static WebApplicationBuilder AddAdCtrJoinerAndDurability(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var configuration = builder.Configuration;
        services.AddOptions<JoinerOptions>().BindConfiguration(JoinerOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<DurabilityOptions>().BindConfiguration(DurabilityOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.SectionName);
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, DurabilityJsonContext.Default));
        services.AddSingleton<IngestionGate>();

        // In a cluster on PostgreSQL, durability is the journal and the campaign checkpoints there (SiloHosting), not the
        // data directory's log and snapshots.
        var clustered = string.Equals(configuration.GetSection(AdCtrClusterOptions.SectionName).GetValue(nameof(AdCtrClusterOptions.Provider), "Localhost"), "PostgreSql", StringComparison.OrdinalIgnoreCase);
        var durable = configuration.GetSection(DurabilityOptions.SectionName).GetValue(nameof(DurabilityOptions.Enabled), true) && !clustered;
        if (durable)
        {
            services.AddSingleton<DurableState>();
            services.TryAddSingleton(StorageFileSystem.Default); // tests replace it to inject faults
            services.AddSingleton<DurabilityMetrics>();
            services.AddSingleton<IExampleSink, LogExampleSink>();
            services.AddSingleton<DurabilityService>();
            services.AddHostedService(sp => sp.GetRequiredService<DurabilityService>());
            services.AddSingleton<BatchRetrainer>();
        }

        var joinerEnabled = configuration.GetSection(JoinerOptions.SectionName).GetValue(nameof(JoinerOptions.Enabled), true);
        if (joinerEnabled)
        {
            ImpressionJoiner? created = null;
            services.AddSingleton(sp => new JoinerMetrics(sp.GetRequiredService<AdCtr.Server.Telemetry.MetricsRegistry>(), () => created));
            services.AddSingleton(sp =>
            {
                var engine = sp.GetRequiredService<CtrEngine>();
                created = new ImpressionJoiner(
                    engine,
                    sp.GetRequiredService<ExampleIngestor>(),
                    sp.GetRequiredService<IOptions<JoinerOptions>>().Value,
                    sp.GetRequiredService<IOptions<ModelOptions>>().Value.NegativeDownsampling,
                    sp.GetRequiredService<TimeProvider>(),
                    sp.GetRequiredService<JoinerMetrics>(),
                    startTimer: true,
                    sp.GetRequiredService<ILogger<ImpressionJoiner>>());
                engine.ServedSink = created;
                return created;
            });
            services.AddSingleton<AdCtr.Grains.Events.ISiloEventsSink>(sp => new Cluster.SiloEventsSink(sp.GetRequiredService<ImpressionJoiner>()));
        }

        return builder;
    }

    /// <summary>Maps <c>/v1/events</c> and, when a key is configured and durability is on, <c>/admin</c>; logs what it did.</summary>
    public static WebApplication MapAdCtrJoinerAndDurability(this WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AdCtr.Server.Durability");
        var joiner = app.Services.GetService<ImpressionJoiner>();
        if (joiner is not null)
        {
            app.MapEventsApi();
            var o = app.Services.GetRequiredService<IOptions<JoinerOptions>>().Value;
            Log.JoinerOptions(logger, o.Policy, o.AttributionWindow, o.MaxPending, app.Services.GetRequiredService<IOptions<ModelOptions>>().Value.NegativeDownsampling, o.WeightNegatives);
        }

        var durable = app.Services.GetService<DurabilityService>() is not null;
        if (durable)
        {
            var s = app.Services.GetRequiredService<IOptions<StorageOptions>>().Value;
            var d = app.Services.GetRequiredService<IOptions<DurabilityOptions>>().Value;
            Log.StorageOptions(logger, Path.GetFullPath(s.Path), s.FsyncPolicy.ToString().ToLowerInvariant(), s.FsyncIntervalMs, d.SnapshotInterval);
        }
        else if (app.Services.GetService<AdCtr.Server.Cluster.PostgreSqlJournal>() is not null)
        {
            var cluster = app.Services.GetRequiredService<AdCtrClusterOptions>();
            Log.ClusterDurability(logger, PostgreSqlSchema.Describe(cluster.ConnectionString!), cluster.CheckpointEvery);
        }
        else
        {
            Log.DurabilityOff(logger);
        }

        var key = app.Services.GetRequiredService<IOptions<AdminOptions>>().Value.ApiKey;
        if (string.IsNullOrEmpty(key))
        {
            Log.AdminOff(logger, "no AdCtr:Admin:ApiKey is configured");
        }
        else if (!durable)
        {
            Log.AdminOff(logger, app.Services.GetService<AdCtr.Server.Cluster.PostgreSqlJournal>() is not null
                ? "they work on the single-node example log and snapshots, which a cluster on PostgreSQL does not use"
                : "durability is off");
        }
        else
        {
            app.MapAdminApi(key);
            Log.AdminOn(logger);
        }

        return app;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Joiner: policy {Policy}, attribution window {Window}, at most {MaxPending} pending predictions, negative downsampling {Rate} (importance-weighted {Weighted})")]
        public static partial void JoinerOptions(ILogger logger, string policy, TimeSpan window, int maxPending, double rate, bool weighted);

        [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "Durability: data directory {Path}, fsync {Policy} ({IntervalMs} ms), snapshots every {Interval}")]
        public static partial void StorageOptions(ILogger logger, string path, string policy, int intervalMs, TimeSpan interval);

        [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Durability is off (AdCtr:Durability:Enabled=false): examples are not logged and the model is lost at exit")]
        public static partial void DurabilityOff(ILogger logger);

        [LoggerMessage(EventId = 4106, Level = LogLevel.Information, Message = "Durability: examples acknowledged once journaled in PostgreSQL ({Database}), campaign checkpoints every {Every} examples and at deactivation; no data directory")]
        public static partial void ClusterDurability(ILogger logger, string database, long every);

        [LoggerMessage(EventId = 4104, Level = LogLevel.Information, Message = "Admin endpoints are not mapped: {Reason}")]
        public static partial void AdminOff(ILogger logger, string reason);

        [LoggerMessage(EventId = 4105, Level = LogLevel.Information, Message = "Admin endpoints mapped under /admin (X-Api-Key required)")]
        public static partial void AdminOn(ILogger logger);
    }
}

/// <summary>Source-generated JSON of the events, durability and admin types.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(EventsResponse))]
[JsonSerializable(typeof(EventDocument[]))]
[JsonSerializable(typeof(SnapshotWritten))]
[JsonSerializable(typeof(List<SnapshotListing>))]
[JsonSerializable(typeof(IReadOnlyList<SnapshotListing>))]
[JsonSerializable(typeof(RecoveryReport))]
[JsonSerializable(typeof(RetrainRequest))]
[JsonSerializable(typeof(RetrainResult))]
internal sealed partial class DurabilityJsonContext : JsonSerializerContext;
