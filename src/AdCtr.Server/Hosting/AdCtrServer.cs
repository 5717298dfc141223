using AdCtr.Grains.Storage;
using AdCtr.Learning.Features;
using AdCtr.Server.Api;
using AdCtr.Server.ConsolePage;
using AdCtr.Server.Model;
using AdCtr.Server.Telemetry;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace AdCtr.Server.Hosting;

/// <summary>Builds and wires the AdCtr server (Program.cs stays two lines; tests build it the same way).</summary>
public static partial class AdCtrServer
{
    /// <summary>Builds the application. <paramref name="configureServices"/> lets tests replace services (e.g. the TimeProvider).</summary>
    public static WebApplication Build(string[] args, Action<IServiceCollection>? configureServices = null)
    {
        var builder = WebApplication.CreateBuilder(args);

        // config/appsettings.json holds the defaults; appsettings.json, AdCtr__* environment variables and the
        // command line (e.g. --urls, --AdCtr:Model:Bits=20) override them, as in any ASP.NET Core app.
        var defaults = new Microsoft.Extensions.Configuration.Json.JsonConfigurationSource
        {
            Path = ConfigPaths.Find("appsettings.json"),
            Optional = true,
            ReloadOnChange = false,
        };
        defaults.ResolveFileProvider();
        builder.Configuration.Sources.Insert(0, defaults);
        if (builder.Configuration["Urls"] is { Length: > 0 } urls)
        {
            // Configuration sources added after CreateBuilder are not read for the host's URLs: apply them.
            builder.WebHost.UseUrls(urls.Split(';', StringSplitOptions.RemoveEmptyEntries));
        }

        builder.AddAdCtr();
        configureServices?.Invoke(builder.Services);
        var app = builder.Build();
        app.MapAdCtr();
        return app;
    }

    /// <summary>Registers options (validated at start), the engine, metrics and JSON.</summary>
    public static WebApplicationBuilder AddAdCtr(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddAdCtrSilo(); // first: the silo is up before recovery replays examples through the grains
        services.AddOptions<ModelOptions>().BindConfiguration(ModelOptions.SectionName).ValidateDataAnnotations().Validate(o => TryFtrl(o.Global) && TryFtrl(o.Campaign), "FTRL parameters: alpha > 0, beta >= 0, L1 >= 0, L2 >= 0").ValidateOnStart();
        services.AddOptions<LimitsOptions>().BindConfiguration(LimitsOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<CalibrationOptions>().BindConfiguration(CalibrationOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp =>
        {
            var model = sp.GetRequiredService<IOptions<ModelOptions>>().Value;
            var spec = FeatureSpec.Load(ConfigPaths.Resolve(model.SpecPath));
            if (model.Bits is { } bits)
            {
                spec = spec.WithBits(bits);
            }

            var grains = sp.GetRequiredService<GrainOptions>();
            var cluster = sp.GetRequiredService<AdCtrClusterOptions>();
            var engine = new CtrEngine(
                spec,
                model,
                sp.GetRequiredService<IOptions<LimitsOptions>>().Value,
                sp.GetRequiredService<IOptions<CalibrationOptions>>().Value,
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<IGrainFactory>(),
                sp.GetRequiredService<CampaignGrainStorage>(),
                grains.IdleTimeout / 2,
                sp.GetRequiredService<AdCtrClusterOptions>().IsPostgreSql ? new AdCtr.Grains.GlobalSync.GlobalOutbox() : null)
            {
                Journaled = sp.GetService<Cluster.PostgreSqlJournal>() is not null,
                // In a cluster the impression ids carry this silo's tag, so that any silo can send an event to the one that served it.
                SiloTag = cluster.IsPostgreSql ? Cluster.EventForwarder.TagOf(sp.GetRequiredService<ILocalSiloDetails>().SiloAddress) : null,
            };
            if (cluster.IsPostgreSql)
            {
                // Predictions for campaigns active on other silos read replicas (CampaignReplicas, refreshed by ReplicaRefresher).
                engine.Replicas = new CampaignReplicas(engine.Silo, sp.GetRequiredService<IGrainFactory>(), cluster.ReplicaRefresh, cluster.ReplicaDropAfter, cluster.MaxReplicas);
                engine.ReplicaAges = new Cluster.ReplicaMetrics(sp.GetRequiredService<AdCtr.Server.Telemetry.MetricsRegistry>(), engine.Replicas);
            }

            return engine;
        });
        services.AddAdCtrMetrics();
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton(sp => new Cluster.ClusterMetrics(sp.GetRequiredService<AdCtr.Server.Telemetry.MetricsRegistry>(), sp.GetRequiredService<Cluster.PostgreSqlJournal>(), sp.GetRequiredService<AdCtr.Grains.Journal.CampaignDurability>()));
        services.AddSingleton(sp =>
        {
            var readiness = new ServerReadiness();
            if (sp.GetService<Cluster.PostgreSqlJournal>() is { } journal)
            {
                readiness.AddCondition(() => journal.Failure); // PostgreSQL unreachable: examples cannot be acknowledged
                _ = sp.GetRequiredService<Cluster.ClusterMetrics>(); // exported from the start (readiness is resolved at start)
            }

            return readiness;
        });
        services.AddSingleton(sp => new ExampleIngestor(
            sp.GetRequiredService<CtrEngine>(),
            sp.GetService<IExampleSink>(),
            sp.GetService<AdCtr.Server.Durability.IngestionGate>(),
            sp.GetRequiredService<ServerMetrics>(),
            sp.GetService<Cluster.PostgreSqlJournal>(),
            sp.GetRequiredService<AdCtrClusterOptions>().LearnRetryTimeout));
        AdCtr.Server.Durability.DurabilityHosting.AddAdCtrJoinerAndDurability(builder); // before EngineLifetime: recovery runs first
        services.AddHostedService<EngineLifetime>();
        builder.AddAdCtrConsole(); // after EngineLifetime: the history's first sample sees the recovered model
        services.AddAdCtrModelMetricsLifetime(); // after recovery: replayed examples are not in the live window
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, AdCtrJsonContext.Default));
        services.AddProblemDetails();
        services.AddOpenApi();
        services.AddOptions<HttpServerOptions>().BindConfiguration(HttpServerOptions.SectionName);
        services.AddOptions<SocketTransportOptions>().Configure<IOptions<HttpServerOptions>>((sockets, http) => sockets.UnsafePreferInlineScheduling = http.Value.InlineScheduling);
        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var limits = context.Configuration.GetSection(LimitsOptions.SectionName).Get<LimitsOptions>() ?? new LimitsOptions();
            kestrel.Limits.MaxRequestBodySize = limits.MaxBodyBytes;
            kestrel.AddServerHeader = false;
        });
        return builder;
    }

    /// <summary>Maps every endpoint and the error handling.</summary>
    public static WebApplication MapAdCtr(this WebApplication app)
    {
        app.UseExceptionHandler(errors => errors.Run(async context =>
        {
            // Anything reaching here is a server bug, never a client error: log it and answer problem+json.
            var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            Log.UnhandledException(app.Logger, error!, context.Request.Path);
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            await TypedResults.Problem(title: "internal error", statusCode: 500, detail: "the server failed; this is a bug, not your request").ExecuteAsync(context);
        }));
        app.UseStatusCodePages();
        app.UseAdCtrHttpMetrics();
        app.MapPredictApi();
        app.MapExamplesApi();
        app.MapCampaignsApi();
        app.MapClusterApi();
        AdCtr.Server.Durability.DurabilityHosting.MapAdCtrJoinerAndDurability(app);
        app.MapHealthAndMetrics();
        app.MapAdCtrConsole();
        app.MapOpenApi();
        LogOptions(app);
        return app;
    }

    private static void MapHealthAndMetrics(this WebApplication app)
    {
        app.MapGet("/health/live", () => TypedResults.Ok(new HealthReport("live", null))).WithName("Live");
        app.MapGet("/health/ready", (ServerReadiness readiness) => readiness.NotReadyReason is { } reason
            ? Results.Json(new HealthReport("not ready", reason), AdCtrJsonContext.Default.HealthReport, statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Ok(new HealthReport("ready", null))).WithName("Ready");
        app.MapAdCtrMetrics().WithName("Metrics").ExcludeFromDescription();
    }

    private static void LogOptions(WebApplication app)
    {
        var sp = app.Services;
        var model = sp.GetRequiredService<IOptions<ModelOptions>>().Value;
        var limits = sp.GetRequiredService<IOptions<LimitsOptions>>().Value;
        var calibration = sp.GetRequiredService<IOptions<CalibrationOptions>>().Value;
        Log.EffectiveOptions(
            app.Logger,
            model.SpecPath,
            model.Bits?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "spec",
            model.Global.ToParameters().ToString(),
            model.Campaign.ToParameters().ToString(),
            limits.MaxCandidates,
            limits.MaxBatch,
            limits.MaxBodyBytes,
            calibration.Kind.ToString());
    }

    private static bool TryFtrl(FtrlOptions o)
    {
        try
        {
            o.ToParameters().Validate();
            return true;
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "AdCtr options: spec {SpecPath}, bits {Bits}, global {Global}, campaign {Campaign}, max candidates {MaxCandidates}, max batch {MaxBatch}, max body {MaxBody} bytes, calibration {Calibration}")]
        public static partial void EffectiveOptions(ILogger logger, string specPath, string bits, string global, string campaign, int maxCandidates, int maxBatch, long maxBody, string calibration);

        [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Unhandled exception on {Path}")]
        public static partial void UnhandledException(ILogger logger, Exception exception, string path);
    }
}

/// <summary>
/// Reports the server ready once the silo has started and recovery has run (hosted services start in registration
/// order). Campaign grains are stopped by the silo, after the hosted services registered later (durability's
/// snapshot on shutdown) have stopped.
/// </summary>
internal sealed class EngineLifetime(ServerReadiness readiness) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        readiness.SetReady();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Finds files of config/: relative to the working directory, else next to the executable.</summary>
internal static class ConfigPaths
{
    public static string Find(string name) => Resolve(Path.Combine("config", name));

    public static string Resolve(string path)
    {
        if (Path.IsPathRooted(path) || File.Exists(path))
        {
            return Path.GetFullPath(path);
        }

        var beside = Path.Combine(AppContext.BaseDirectory, path);
        return File.Exists(beside) ? beside : Path.GetFullPath(path);
    }
}
