using System.Buffers;
using System.Net.Http.Headers;
using AdCtr.Simulator.World;

namespace AdCtr.Simulator.Drive;

/// <summary>
/// Drives a running AdCtr server with a simulated world: for each request of the scenario, <c>POST /v1/predict</c>
/// with its candidates; the candidate with the highest bid × predicted ctr is shown (one slot); the click is drawn
/// from the TRUE probability (<see cref="SimulationRun.Show"/>); the impression and, if clicked, the click go to
/// <c>POST /v1/events</c> (see <see cref="EventSender"/>). Requests are sent open loop, request i due i / rate after
/// the start, with at most <see cref="DriveSettings.MaxInFlight"/> in flight; latency is measured from the due time,
/// so pacing lag counts. Time comes from the given <see cref="TimeProvider"/> (rate 0 needs no timer at all).
/// </summary>
/// <remarks>
/// The world is shared by the request stream and the click draws (budgets); both run under one lock. Clicks are
/// drawn in the order the answers arrive, so with more than one request in flight two runs of the same seed can
/// differ in which requests are clicked (not in the distribution).
/// </remarks>
public sealed class DriveRunner
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    private readonly AdWorld _world;
    private readonly HttpClient _http;
    private readonly DriveSettings _settings;
    private readonly TimeProvider _time;
    private readonly SimulationRun _run;
    private readonly Lock _gate = new();
    private readonly DriveAccounting _accounting = new();
    private readonly List<double> _latencyMs = [];
    private readonly Dictionary<string, long> _errors = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _inFlight;
    private readonly EventSender _events;
    private long _sent;
    private long _served;
    private long _failed;
    private long _clicks;
    private long _start;

    /// <param name="world">The scenario's world; the runner starts its own <see cref="SimulationRun"/>.</param>
    /// <param name="http">A client whose <see cref="HttpClient.BaseAddress"/> is the server (its own timeout is not used).</param>
    public DriveRunner(AdWorld world, HttpClient http, DriveSettings settings, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(world);
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(time);
        settings.Validate();
        _world = world;
        _http = http;
        _settings = settings;
        _time = time;
        _run = world.StartRun();
        _inFlight = new SemaphoreSlim(settings.MaxInFlight, settings.MaxInFlight);
        _events = new EventSender(http, settings, time);
    }

    /// <summary>Counts so far, for a progress line (safe to call while running).</summary>
    public DriveProgress Progress()
    {
        lock (_gate)
        {
            return new DriveProgress(_sent, _served, _failed, _clicks, _start == 0 ? TimeSpan.Zero : _time.GetElapsedTime(_start));
        }
    }

    /// <summary>
    /// Runs until the duration, the request bound or the world's end, waits for the requests in flight, sends the
    /// remaining events, and reports. Cancelling stops sending new requests (those in flight are cancelled and
    /// counted as <c>cancelled</c>); the report still comes.
    /// </summary>
    public async Task<DriveResult> RunAsync(CancellationToken ct = default)
    {
        var sender = Task.Run(_events.RunAsync, CancellationToken.None);
        var frequency = _time.TimestampFrequency;
        lock (_gate)
        {
            _start = _time.GetTimestamp();
        }

        var worldEnded = false;
        using var requests = _run.Requests().GetEnumerator();
        try
        {
            // Bounded by MaxRequests, the duration and the world's end.
            for (long i = 0; i < _settings.MaxRequests; i++)
            {
                long due;
                if (_settings.Rate > 0)
                {
                    var offset = TimeSpan.FromSeconds(i / _settings.Rate);
                    if (offset >= _settings.Duration)
                    {
                        break;
                    }

                    var wait = offset - _time.GetElapsedTime(_start);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, _time, ct).ConfigureAwait(false);
                    }

                    due = _start + (long)(offset.TotalSeconds * frequency);
                }
                else
                {
                    due = -1;
                }

                if (_time.GetElapsedTime(_start) >= _settings.Duration)
                {
                    break;
                }

                await _inFlight.WaitAsync(ct).ConfigureAwait(false);
                SimRequest request;
                lock (_gate)
                {
                    if (!requests.MoveNext())
                    {
                        worldEnded = true;
                        _inFlight.Release();
                        break;
                    }

                    request = requests.Current;
                    _sent++;
                }

                // As fast as possible: the request is due when a slot frees up.
                if (due < 0)
                {
                    due = _time.GetTimestamp();
                }

                // Fire and forget: SendAsync handles every failure and releases its in-flight slot.
                _ = SendAsync(request, due, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stop sending; report what was done.
        }

        // Wait for every request in flight (each bounded by the request timeout).
        for (var k = 0; k < _settings.MaxInFlight; k++)
        {
            await _inFlight.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        var elapsed = _time.GetElapsedTime(_start);
        _events.Complete();
        await sender.ConfigureAwait(false);
        lock (_gate)
        {
            return new DriveResult
            {
                Scenario = _world.Scenario.Name,
                Seed = _world.Seed,
                Settings = _settings,
                Seconds = elapsed.TotalSeconds,
                SecondsWithEvents = _time.GetElapsedTime(_start).TotalSeconds,
                WorldEnded = worldEnded,
                Sent = _sent,
                Served = _served,
                Errors = new SortedDictionary<string, long>(_errors, StringComparer.Ordinal),
                Latency = DriveLatency.Of([.. _latencyMs]),
                Quality = _accounting.Summarise(),
                ImpressionsSent = _events.Impressions,
                ClicksOnTime = _events.ClicksOnTime,
                ClicksFlushedEarly = _events.ClicksFlushedEarly,
                ClicksBeyondWindow = _events.ClicksBeyondWindow,
                EventPosts = _events.Posts,
                EventPostFailures = _events.PostFailures,
                EventsAccepted = _events.Accepted,
                EventPositives = _events.Positives,
                EventNegatives = _events.Negatives,
                EventsRejected = new SortedDictionary<string, long>(_events.Rejected.ToDictionary(), StringComparer.Ordinal),
                EventsFailed = new SortedDictionary<string, long>(_events.Failed.ToDictionary(), StringComparer.Ordinal),
            };
        }
    }

    private async Task SendAsync(SimRequest request, long due, CancellationToken ct)
    {
        try
        {
            var buffer = new ArrayBufferWriter<byte>(1024);
            var candidates = PredictMessages.WriteRequest(_world, request, buffer);
            var n = candidates.Length;
            var ctr = new double[n];
            var ids = new string[n];
            byte[] answer;
            using (var timeout = new CancellationTokenSource(_settings.RequestTimeout, _time))
            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token))
            {
                using var content = new ReadOnlyMemoryContent(buffer.WrittenMemory);
                content.Headers.ContentType = Json;
                using var response = await _http.PostAsync("v1/predict", content, cts.Token).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    Error("http_" + ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture));
                    return;
                }

                answer = await response.Content.ReadAsByteArrayAsync(cts.Token).ConfigureAwait(false);
            }

            var latency = _time.GetElapsedTime(due).TotalMilliseconds;
            if (!PredictMessages.TryReadResponse(answer, ctr, ids))
            {
                Error("bad_response");
                return;
            }

            var bids = new double[n];
            var truth = new double[n];
            for (var i = 0; i < n; i++)
            {
                bids[i] = _world.Campaigns[_world.Ads[request.Candidates[i]].CampaignIndex].Bid;
                truth[i] = candidates[i].TrueCtr;
            }

            var shown = DriveAccounting.ChooseByExpectedValue(bids, ctr);
            SimImpression impression;
            lock (_gate)
            {
                impression = _run.Show(request, request.Candidates[shown]);
                _accounting.Record(bids, ctr, truth, shown, impression.Clicked);
                _latencyMs.Add(latency);
                _served++;
                if (impression.Clicked)
                {
                    _clicks++;
                }
            }

            _events.Shown(ids[shown], impression.Clicked, impression.ClickDelaySeconds);
        }
        catch (OperationCanceledException)
        {
            Error(ct.IsCancellationRequested ? "cancelled" : "timeout");
        }
        catch (HttpRequestException)
        {
            Error("transport");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Nothing else is expected; counting it keeps served + errors == sent for a fire-and-forget request.
            Error("internal_" + e.GetType().Name);
        }
        finally
        {
            _inFlight.Release();
        }
    }

    private void Error(string kind)
    {
        lock (_gate)
        {
            _failed++;
            _errors[kind] = _errors.GetValueOrDefault(kind) + 1;
        }
    }
}

/// <summary>Counts of a run in progress.</summary>
public readonly record struct DriveProgress(long Sent, long Served, long Errors, long Clicks, TimeSpan Elapsed);
