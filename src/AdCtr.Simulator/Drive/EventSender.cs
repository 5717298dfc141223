using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace AdCtr.Simulator.Drive;

/// <summary>
/// Sends impression and click events to <c>POST /v1/events</c> as NDJSON, in batches: a batch goes when
/// <see cref="DriveSettings.EventBatchSize"/> events are queued or <see cref="DriveSettings.FlushInterval"/> after the
/// previous one. Posts are sequential, so an impression always reaches the server before its click. A click is
/// due its scaled delay after its impression; clicks whose scaled delay reaches the attribution window are not
/// sent (counted). When the run completes, clicks not yet due are sent at once (they are still inside the
/// window, since their due time is) and counted as flushed early.
/// </summary>
internal sealed class EventSender(HttpClient http, DriveSettings settings, TimeProvider time)
{
    private static readonly MediaTypeHeaderValue Ndjson = new("application/x-ndjson");

    private readonly Lock _lock = new();
    private readonly List<(bool Click, string Id)> _pending = [];
    private readonly PriorityQueue<string, long> _scheduled = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly Dictionary<string, long> _rejected = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _failed = new(StringComparer.Ordinal);
    private bool _completed;

    public long Impressions { get; private set; }

    /// <summary>Clicks sent when due (with their impression when the delay is 0).</summary>
    public long ClicksOnTime { get; private set; }

    public long ClicksFlushedEarly { get; private set; }

    public long ClicksBeyondWindow { get; private set; }

    public long Posts { get; private set; }

    public long PostFailures { get; private set; }

    public long Accepted { get; private set; }

    public long Positives { get; private set; }

    public long Negatives { get; private set; }

    /// <summary>Events the server answered but did not accept, by its reason (<c>click_after_window</c>, ...).</summary>
    public IReadOnlyDictionary<string, long> Rejected => _rejected;

    /// <summary>Events of failed posts (never answered), by failure: <c>http_NNN</c>, <c>timeout</c>, <c>transport</c>, <c>bad_response</c>.</summary>
    public IReadOnlyDictionary<string, long> Failed => _failed;

    /// <summary>Queues the impression of a shown ad and, when clicked, its click after the scaled delay.</summary>
    public void Shown(string impressionId, bool clicked, double clickDelaySeconds)
    {
        bool full;
        lock (_lock)
        {
            _pending.Add((false, impressionId));
            if (clicked)
            {
                // In seconds (a double): a scaled delay can exceed what a TimeSpan holds.
                var wall = clickDelaySeconds * settings.ClickDelayScale;
                if (wall >= settings.AttributionWindow.TotalSeconds)
                {
                    ClicksBeyondWindow++;
                }
                else if (wall <= 0)
                {
                    _pending.Add((true, impressionId));
                    ClicksOnTime++;
                }
                else
                {
                    _scheduled.Enqueue(impressionId, time.GetTimestamp() + (long)(wall * time.TimestampFrequency));
                }
            }

            full = _pending.Count >= settings.EventBatchSize;
        }

        if (full)
        {
            _signal.Release();
        }
    }

    /// <summary>No more impressions: send what is queued, the clicks not yet due included, and let <see cref="RunAsync"/> end.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            _completed = true;
        }

        _signal.Release();
    }

    /// <summary>The sending loop; ends after <see cref="Complete"/> once everything is sent.</summary>
    public async Task RunAsync()
    {
        var lastPost = time.GetTimestamp();
        var wake = _signal.WaitAsync();

        // Bounded: ends on the first pass after Complete (every pass waits for the signal or the flush interval).
        while (true)
        {
            bool completed, due;
            lock (_lock)
            {
                var now = time.GetTimestamp();
                while (_scheduled.TryPeek(out var id, out var at) && at <= now)
                {
                    _scheduled.Dequeue();
                    _pending.Add((true, id));
                    ClicksOnTime++;
                }

                completed = _completed;
                if (completed)
                {
                    // Bounded by the queue length.
                    while (_scheduled.TryDequeue(out var id, out _))
                    {
                        _pending.Add((true, id));
                        ClicksFlushedEarly++;
                    }
                }

                due = _pending.Count >= settings.EventBatchSize
                    || (_pending.Count > 0 && time.GetElapsedTime(lastPost) >= settings.FlushInterval)
                    || completed;
            }

            if (due)
            {
                await PostPendingAsync().ConfigureAwait(false);
                lastPost = time.GetTimestamp();
            }

            if (completed)
            {
                return;
            }

            if (wake.IsCompleted)
            {
                wake = _signal.WaitAsync();
            }

            await Task.WhenAny(wake, Task.Delay(settings.FlushInterval, time)).ConfigureAwait(false);
        }
    }

    private async Task PostPendingAsync()
    {
        // Bounded: each pass takes up to a batch from the queue; producers may add more meanwhile, which the next
        // pass (or the next wake-up) sends.
        while (true)
        {
            List<(bool Click, string Id)> batch;
            lock (_lock)
            {
                if (_pending.Count == 0)
                {
                    return;
                }

                var n = Math.Min(_pending.Count, settings.EventBatchSize);
                batch = _pending.GetRange(0, n);
                _pending.RemoveRange(0, n);
                foreach (var e in batch)
                {
                    if (!e.Click)
                    {
                        Impressions++;
                    }
                }
            }

            await PostAsync(batch).ConfigureAwait(false);
        }
    }

    private async Task PostAsync(List<(bool Click, string Id)> batch)
    {
        var body = new StringBuilder(batch.Count * 56);
        foreach (var (click, id) in batch)
        {
            body.Append(click ? "{\"type\":\"click\",\"impressionId\":" : "{\"type\":\"impression\",\"impressionId\":")
                .Append('"').Append(JsonEncodedText.Encode(id).Value).Append("\"}\n");
        }

        Posts++;
        try
        {
            using var cts = new CancellationTokenSource(settings.RequestTimeout, time);
            using var content = new StringContent(body.ToString(), Encoding.UTF8, Ndjson);
            using var response = await http.PostAsync("v1/events", content, cts.Token).ConfigureAwait(false);
            var json = await response.Content.ReadAsByteArrayAsync(cts.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                Fail(batch.Count, "http_" + ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            else if (!TryCount(json))
            {
                Fail(batch.Count, "bad_response");
            }
        }
        catch (OperationCanceledException)
        {
            Fail(batch.Count, "timeout");
        }
        catch (HttpRequestException)
        {
            Fail(batch.Count, "transport");
        }
    }

    private void Fail(int events, string reason)
    {
        PostFailures++;
        _failed[reason] = _failed.GetValueOrDefault(reason) + events;
    }

    /// <summary>Adds up <c>{"accepted","positives","negatives","rejected":{reason: n}}</c> (EventsApi's response).</summary>
    private bool TryCount(byte[] json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (!root.TryGetProperty("accepted"u8, out var accepted) || !root.TryGetProperty("positives"u8, out var positives)
                || !root.TryGetProperty("negatives"u8, out var negatives))
            {
                return false;
            }

            Accepted += accepted.GetInt64();
            Positives += positives.GetInt64();
            Negatives += negatives.GetInt64();
            if (root.TryGetProperty("rejected"u8, out var rejected) && rejected.ValueKind == JsonValueKind.Object)
            {
                foreach (var r in rejected.EnumerateObject())
                {
                    _rejected[r.Name] = _rejected.GetValueOrDefault(r.Name) + r.Value.GetInt64();
                }
            }

            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return false;
        }
    }
}
