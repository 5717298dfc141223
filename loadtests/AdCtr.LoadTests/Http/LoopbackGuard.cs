using System.Net;

namespace AdCtr.LoadTests.Http;

/// <summary>The harness only loads this machine: 127.0.0.0/8, ::1 and <c>localhost</c>.</summary>
public static class LoopbackGuard
{
    /// <summary>Parses <paramref name="url"/> and checks that it is http(s) on a loopback host.</summary>
    public static bool TryValidate(string? url, out Uri? uri, out string error)
    {
        uri = null;
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url, UriKind.Absolute, out var parsed))
        {
            error = "not an absolute URL: '" + url + "'";
            return false;
        }

        if (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps)
        {
            error = "only http and https targets are supported: '" + url + "'";
            return false;
        }

        if (!IsLoopbackHost(parsed.Host))
        {
            error = "refusing to load '" + parsed.Host + "': the load generator only targets loopback (127.0.0.0/8, ::1, localhost)";
            return false;
        }

        uri = parsed;
        error = string.Empty;
        return true;
    }

    public static bool IsLoopbackHost(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        var trimmed = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        if (!IPAddress.TryParse(trimmed, out var address))
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return IPAddress.IsLoopback(address);
    }
}
