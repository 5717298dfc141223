using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using AdCtr.LoadTests.Engine;

namespace AdCtr.LoadTests.Http;

/// <summary>
/// HTTP/1.1 over one <see cref="SocketsHttpHandler"/> whose pool is sized for the load (by Little's law, the
/// connections needed are rate x latency; see <see cref="ConnectionsFor"/>). Bodies are the pre-serialised
/// arrays of the profile, wrapped without copying; responses are drained into a pooled buffer. With several targets
/// (the servers of a cluster) the measured requests go to them round robin and the connections are split between them.
/// </summary>
public sealed class HttpLoadTransport : ILoadTransport, IDisposable
{
    private readonly HttpClient _client;
    private readonly Uri[] _targets;
    private readonly TimeSpan _timeout;
    private readonly ConcurrentDictionary<string, Uri>[] _uris;
    private long _next = -1;

    public HttpLoadTransport(Uri baseUri, int maxConnections, TimeSpan timeout)
        : this([baseUri], maxConnections, timeout)
    {
    }

    public HttpLoadTransport(IReadOnlyList<Uri> targets, int maxConnections, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.Count == 0)
        {
            throw new ArgumentException("At least one target is needed.", nameof(targets));
        }

        foreach (var target in targets)
        {
            ArgumentNullException.ThrowIfNull(target);
            if (!LoopbackGuard.IsLoopbackHost(target.Host))
            {
                throw new ArgumentException("The load generator only targets loopback hosts.", nameof(targets));
            }
        }

        _targets = [.. targets];
        _uris = [.. targets.Select(_ => new ConcurrentDictionary<string, Uri>(StringComparer.Ordinal))];
        _timeout = timeout;
        var handler = new SocketsHttpHandler
        {
            // Per server (host and port): the connections are split between the targets.
            MaxConnectionsPerServer = Math.Max(1, (maxConnections + _targets.Length - 1) / _targets.Length),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.ExpectContinue = false;
    }

    /// <summary>
    /// Connections for a peak of <paramref name="ratePerSecond"/>: twice the rate x the SLO latency (the mean number
    /// of requests in flight by Little's law, with headroom), at least 16 and at most 1,024.
    /// </summary>
    public static int ConnectionsFor(double ratePerSecond, double sloMs) =>
        (int)Math.Clamp(Math.Ceiling(2 * ratePerSecond * sloMs / 1000.0), 16, 1024);

    public async ValueTask<int> SendAsync(LoadRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        // Leave the scheduler thread at once: header writing and socket work happen on the thread pool.
        await Task.Yield();
        using var message = new HttpRequestMessage(HttpMethod.Post, UriFor(request.Path))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(request.Body),
        };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue(request.ContentType);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            using var response = await _client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            await DrainAsync(response, timeout.Token).ConfigureAwait(false);
            return (int)response.StatusCode;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Outcome.Timeout;
        }
        catch (OperationCanceledException)
        {
            return Outcome.Cancelled;
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException || e.HttpRequestError == HttpRequestError.ConnectionError)
        {
            return Outcome.Socket;
        }
        catch (HttpRequestException)
        {
            return Outcome.Protocol;
        }
        catch (IOException)
        {
            return Outcome.Socket;
        }
    }

    /// <summary>The targets, in the order requests go round robin.</summary>
    public IReadOnlyList<Uri> Targets => _targets;

    /// <summary>Sends a request outside the measured load (setup calls) to the first target and returns status and body.</summary>
    public Task<(int Status, byte[] Body)> ExchangeAsync(HttpMethod method, string path, LoadRequest? body, CancellationToken cancellationToken) =>
        ExchangeAsync(0, method, path, body, cancellationToken);

    /// <summary>Sends a request outside the measured load to target number <paramref name="target"/> and returns status and body.</summary>
    public async Task<(int Status, byte[] Body)> ExchangeAsync(int target, HttpMethod method, string path, LoadRequest? body, CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(method, new Uri(_targets[target], path));
        if (body is not null)
        {
            message.Content = new ByteArrayContent(body.Body);
            message.Content.Headers.ContentType = new MediaTypeHeaderValue(body.ContentType);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        using var response = await _client.SendAsync(message, timeout.Token).ConfigureAwait(false);
        var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
        return ((int)response.StatusCode, bytes);
    }

    public void Dispose() => _client.Dispose();

    private static async Task DrainAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                // Bounded by the response length: each read consumes bytes until the end of the body.
                while (await stream.ReadAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false) > 0)
                {
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private Uri UriFor(string path)
    {
        var t = _targets.Length == 1 ? 0 : (int)((ulong)Interlocked.Increment(ref _next) % (ulong)_targets.Length);
        return _uris[t].GetOrAdd(path, static (p, b) => new Uri(b, p), _targets[t]);
    }
}
