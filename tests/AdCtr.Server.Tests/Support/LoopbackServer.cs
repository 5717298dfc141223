using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AdCtr.Server.Hosting;
using AdCtr.Server.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AdCtr.Server.Tests.Support;

/// <summary>
/// The real server (Kestrel) on 127.0.0.1 with an ephemeral port, as a client would use it, with a clock the
/// test controls. Each test owns one. Also compiled into AdCtr.Simulator.Tests (drive mode).
/// </summary>
internal sealed class LoopbackServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private readonly string _dataDirectory;

    private LoopbackServer(WebApplication app, HttpClient client, ManualClock clock, string dataDirectory)
    {
        _app = app;
        _dataDirectory = dataDirectory;
        Client = client;
        Clock = clock;
    }

    public HttpClient Client { get; }

    public ManualClock Clock { get; }

    public CtrEngine Engine => _app.Services.GetRequiredService<CtrEngine>();

    /// <summary>The silo's grain factory (management calls in tests, e.g. forcing activation collection).</summary>
    public IGrainFactory Grains => _app.Services.GetRequiredService<IGrainFactory>();

    /// <summary>The data directory (example log and snapshots), deleted at dispose.</summary>
    public string DataDirectory => _dataDirectory;

    /// <summary>The server's services (its example log, options).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>Base address, with a trailing slash.</summary>
    public Uri Address => Client.BaseAddress!;

    /// <summary>A client of its own (the caller disposes it), for code under test that owns its HttpClient.</summary>
    public HttpClient CreateClient() => new() { BaseAddress = Address };

    public static async Task<LoopbackServer> StartAsync(params string[] settings)
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 1, 5, 12, 0, 0, TimeSpan.Zero));
        var data = Directory.CreateTempSubdirectory("adctr-api-").FullName;
        string[] args =
        [
            "--AdCtr:Storage:Path=" + data,
            "--urls", "http://127.0.0.1:0",
            "--AdCtr:Cluster:SiloPort=0", // a free port: tests run many silos at once
            "--AdCtr:Cluster:GatewayPort=0",
            "--AdCtr:Model:SpecPath=" + Path.Combine(RepoPaths.Config, "features.sim.json"),
            "--AdCtr:Model:Bits=18",
            "--Logging:LogLevel:Default=Warning",
            .. settings,
        ];
        var app = AdCtrServer.Build(args, services =>
        {
            services.RemoveAll<TimeProvider>();
            services.AddSingleton<TimeProvider>(clock);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var client = new HttpClient { BaseAddress = new Uri(address) };
        return new LoopbackServer(app, client, clock, data);
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json) =>
        Client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    public Task<HttpResponseMessage> PostNdjsonAsync(string path, string ndjson) =>
        Client.PostAsync(path, new StringContent(ndjson, Encoding.UTF8, new MediaTypeHeaderValue("application/x-ndjson")));

    public async Task<JsonElement> PredictAsync(string json)
    {
        using var response = await PostJsonAsync("/v1/predict", json);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonDocument.Parse(text).RootElement;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_dataDirectory, recursive: true);
    }
}

/// <summary>A clock the test moves by hand (no timers fire on their own).</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

internal static class RepoPaths
{
    public static string Config
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "AdCtr.sln")))
                {
                    return Path.Combine(dir.FullName, "config");
                }
            }

            throw new InvalidOperationException("AdCtr.sln not found above " + AppContext.BaseDirectory);
        }
    }
}
