using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AdCtr.Server.Api;

/// <summary>A request body read whole into a pooled buffer, bounded by the configured size limit.</summary>
internal readonly struct RequestBody : IDisposable
{
    private readonly byte[]? _buffer;

    private RequestBody(byte[]? buffer, int length, ProblemHttpResult? error)
    {
        _buffer = buffer;
        Length = length;
        Error = error;
    }

    public int Length { get; }

    public ProblemHttpResult? Error { get; }

    public ReadOnlySpan<byte> Span => _buffer is null ? default : _buffer.AsSpan(0, Length);

    public ReadOnlyMemory<byte> Memory => _buffer is null ? default : _buffer.AsMemory(0, Length);

    public static async ValueTask<RequestBody> ReadAsync(HttpRequest request, long maxBytes, CancellationToken ct)
    {
        if (request.ContentLength is { } declared && declared > maxBytes)
        {
            return new RequestBody(null, 0, Problems.TooLarge(maxBytes));
        }

        var reader = request.BodyReader;
        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(request.ContentLength ?? 4096, 256), maxBytes + 1));
        var length = 0;
        try
        {
            while (true)
            {
                ReadResult result;
                try
                {
                    result = await reader.ReadAsync(ct).ConfigureAwait(false);
                }
                catch (BadHttpRequestException e)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    return new RequestBody(null, 0, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                        ? Problems.TooLarge(maxBytes)
                        : Problems.BadRequest("unreadable request body", e.Message));
                }

                var data = result.Buffer;
                if (length + data.Length > maxBytes)
                {
                    reader.AdvanceTo(data.End);
                    ArrayPool<byte>.Shared.Return(buffer);
                    return new RequestBody(null, 0, Problems.TooLarge(maxBytes));
                }

                if (length + data.Length > buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(buffer.Length * 2, length + data.Length), maxBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }

                data.CopyTo(buffer.AsSpan(length));
                length += (int)data.Length;
                reader.AdvanceTo(data.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }

        return new RequestBody(buffer, length, null);
    }

    public void Dispose()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }
    }
}

/// <summary>RFC 7807 problem results of the API, with a stable <c>type</c> per kind of problem.</summary>
internal static class Problems
{
    public static ProblemHttpResult BadRequest(string title, string? detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status400BadRequest, title: title, type: "https://adctr.dev/problems/bad-request");

    public static ProblemHttpResult TooLarge(long maxBytes) =>
        TypedResults.Problem(detail: "the request body is larger than " + maxBytes + " bytes (AdCtr:Limits:MaxBodyBytes)", statusCode: StatusCodes.Status413PayloadTooLarge, title: "request body too large", type: "https://adctr.dev/problems/too-large");

    public static ProblemHttpResult NotFound(string title, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status404NotFound, title: title, type: "https://adctr.dev/problems/not-found");

    public static ProblemHttpResult UnsupportedMediaType(string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status415UnsupportedMediaType, title: "unsupported media type", type: "https://adctr.dev/problems/media-type");
}
