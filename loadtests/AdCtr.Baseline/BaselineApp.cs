using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace AdCtr.Baseline;

/// <summary>
/// The HTTP ceiling of this machine: a trivial JSON echo, so the load-test suite can report every server
/// figure as a ratio to what the same generator reaches against an endpoint that does no work.
/// Binds to 127.0.0.1:5090 unless <c>--urls</c> or <c>ASPNETCORE_URLS</c> says otherwise.
/// </summary>
public static class BaselineApp
{
    /// <summary>The address used when none is configured: loopback only.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5090";

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        // Per-request logs at Information would cost more than the echo itself.
        builder.Logging.SetMinimumLevel(LogLevel.Warning);

        var app = builder.Build();
        app.MapPost("/echo", EchoAsync);
        return app;
    }

    /// <summary>The addresses Kestrel actually bound (resolves port 0 to the chosen port); call after start.</summary>
    public static IReadOnlyCollection<string> BoundAddresses(WebApplication app)
    {
        var feature = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>();
        return feature is null ? [] : feature.Addresses.ToArray();
    }

    private static async Task EchoAsync(HttpRequest request, HttpResponse response)
    {
        response.ContentType = "application/json";
        response.ContentLength = request.ContentLength;
        await request.Body.CopyToAsync(response.Body, request.HttpContext.RequestAborted).ConfigureAwait(false);
    }
}
