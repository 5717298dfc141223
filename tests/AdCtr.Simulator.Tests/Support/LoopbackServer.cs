using AdCtr.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AdCtr.Simulator.Tests.Support;

/// <summary>
/// The real AdCtr server (Kestrel) on 127.0.0.1 with an ephemeral port, its own temp data directory and a clock
/// the test controls (the minimal part of AdCtr.Server.Tests' LoopbackServer). Each test owns one.
/// </summary>
internal sealed class LoopbackServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _dataDirectory;

    private LoopbackServer(WebApplication app, Uri address, ManualClock clock, string dataDirectory)
    {
        _app = app;
        _dataDirectory = dataDirectory;
        Address = address;
        Clock = clock;
    }

    /// <summary>Base address, with a trailing slash.</summary>
    public Uri Address { get; }

    public ManualClock Clock { get; }

    public static async Task<LoopbackServer> StartAsync(params string[] settings)
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 1, 5, 12, 0, 0, TimeSpan.Zero));
        var data = Directory.CreateTempSubdirectory("adctr-sim-drive-").FullName;
        string[] args =
        [
            "--AdCtr:Storage:Path=" + data,
            "--urls", "http://127.0.0.1:0",
            "--AdCtr:Model:SpecPath=" + Path.Combine(AppContext.BaseDirectory, "config", "features.sim.json"),
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
        return new LoopbackServer(app, new Uri(address.TrimEnd('/') + "/"), clock, data);
    }

    public HttpClient CreateClient() => new() { BaseAddress = Address };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_dataDirectory, recursive: true);
    }
}

/// <summary>A clock the test moves by hand (timestamps and UTC time stand still until <see cref="Advance"/>).</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
