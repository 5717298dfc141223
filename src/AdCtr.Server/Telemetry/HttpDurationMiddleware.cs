using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Prometheus;

namespace AdCtr.Server.Telemetry;

/// <summary>
/// Observes every request's duration in the <c>http_request_duration_seconds{code, method, endpoint}</c> histogram,
/// with the labels prometheus-net's HTTP middleware gives them (<c>code</c> the status class as "2xx", <c>method</c>
/// the request method, <c>endpoint</c> the route pattern or "" when no endpoint matched), and at the same point
/// (after the rest of the pipeline, in a <c>finally</c>). What differs is the cost: prometheus-net's middleware
/// formats the status class to a new string, allocates a label array and looks the three strings up in the
/// histogram's child dictionary on every request (with its route-data capture, 3-4 % of a predict-1 request's CPU
/// in a profile); here the child is an array element found by the endpoint (one reference-keyed dictionary read),
/// the method (reference comparison with the interned method strings Kestrel hands out) and the status class.
/// Anything else (another method, a status outside 100-599) takes the general path with the same labels.
/// </summary>
internal sealed class HttpDurationMiddleware
{
    /// <summary>Methods with a cached child per endpoint and status class; any other method takes the general path.</summary>
    private static readonly string[] Methods = [HttpMethods.Get, HttpMethods.Post, HttpMethods.Put, HttpMethods.Delete, HttpMethods.Head, HttpMethods.Patch, HttpMethods.Options];

    private const int Classes = 5; // 1xx..5xx

    private readonly RequestDelegate _next;
    private readonly Histogram _histogram;
    private readonly ConcurrentDictionary<Endpoint, Histogram.Child?[]> _byEndpoint = new(ReferenceEqualityComparer.Instance);
    private readonly Histogram.Child?[] _noEndpoint = new Histogram.Child?[Methods.Length * Classes];

    public HttpDurationMiddleware(RequestDelegate next, Histogram histogram)
    {
        _next = next;
        _histogram = histogram;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        Task task;
        try
        {
            task = _next(context);
        }
        catch
        {
            Observe(context, started);
            throw;
        }

        if (task.IsCompletedSuccessfully)
        {
            Observe(context, started);
            return Task.CompletedTask;
        }

        return AwaitAsync(task, context, started);
    }

    private async Task AwaitAsync(Task task, HttpContext context, long started)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        finally
        {
            Observe(context, started);
        }
    }

    private void Observe(HttpContext context, long started)
    {
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        ChildOf(context).Observe(seconds);
    }

    private Histogram.Child ChildOf(HttpContext context)
    {
        var status = context.Response.StatusCode;
        var method = context.Request.Method;
        var m = MethodIndex(method);
        if (m < 0 || status < 100 || status > 599)
        {
            return Slow(context, status, method);
        }

        var endpoint = context.GetEndpoint();
        var children = endpoint is null ? _noEndpoint : _byEndpoint.GetOrAdd(endpoint, static _ => new Histogram.Child?[Methods.Length * Classes]);
        var i = (m * Classes) + (status / 100) - 1;
        return children[i] ?? (children[i] = Slow(context, status, method)); // a race makes the same child twice: harmless
    }

    private static int MethodIndex(string method)
    {
        for (var i = 0; i < Methods.Length; i++)
        {
            if (ReferenceEquals(method, Methods[i]))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The child by its label values, computed as prometheus-net's middleware computes them.</summary>
    private Histogram.Child Slow(HttpContext context, int status, string method)
    {
        var code = Math.Floor(status / 100.0).ToString("#xx", CultureInfo.InvariantCulture);
        var endpoint = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "";
        return _histogram.WithLabels(code, method, endpoint);
    }
}
