namespace AdCtr.Simulator.World;

/// <summary>Where and when an ad slot is offered: site or app, slot position (1-based), UTC hour, ISO weekday (1 = Monday).</summary>
public readonly record struct SimContext(int SiteIndex, int Position, int Hour, int Weekday);

/// <summary>
/// One ad request: a user in a context at a time, with candidate ads (indices into <see cref="AdWorld.Ads"/>) of
/// distinct live campaigns. The candidate array is owned by the request (one small allocation per request) so
/// requests may be kept or handed to other threads.
/// </summary>
public readonly struct SimRequest
{
    private readonly int[] _candidates;

    internal SimRequest(long id, DateTime time, int userIndex, SimContext context, int[] candidates)
    {
        Id = id;
        Time = time;
        UserIndex = userIndex;
        Context = context;
        _candidates = candidates;
    }

    /// <summary>Sequence number within the run, from 0.</summary>
    public long Id { get; }

    /// <summary>Arrival time (UTC, millisecond precision).</summary>
    public DateTime Time { get; }

    public int UserIndex { get; }

    public SimContext Context { get; }

    /// <summary>Candidate ad indices.</summary>
    public ReadOnlySpan<int> Candidates => _candidates;
}

/// <summary>An ad shown for a request, with its true click probability and the drawn outcome.</summary>
public readonly record struct SimImpression(SimRequest Request, int AdIndex, double TrueProbability, bool Clicked, double ClickDelaySeconds)
{
    /// <summary>Impression time (= request time).</summary>
    public DateTime Time => Request.Time;
}

/// <summary>
/// The mutable side of one simulation of an <see cref="AdWorld"/>: the request arrivals (a Poisson process thinned
/// to the daily cycle), daily budgets, and the click draws. Everything is drawn from streams derived from the
/// world's seed, so two runs of the same world produce the same requests and, given the same shown ads, the same
/// clicks. Not thread-safe: one consumer per run; <see cref="Requests"/> can be enumerated once.
/// </summary>
public sealed class SimulationRun
{
    private readonly AdWorld _world;
    private readonly Campaign[] _campaigns;
    private readonly Ad[] _ads;
    private readonly SimRandom _requestRng;
    private readonly SimRandom _clickRng;
    private readonly SimRandom _policyRng;
    private readonly long[] _boundaries;
    private readonly double[] _spentToday;
    private readonly int[] _active;
    private int _activeCount;
    private bool _activeDirty = true;
    private bool _started;

    internal SimulationRun(AdWorld world)
    {
        _world = world;
        _campaigns = world.CampaignArray;
        _ads = world.AdArray;
        _requestRng = SimRandom.ForStream(world.Seed, AdWorld.StreamRequests);
        _clickRng = SimRandom.ForStream(world.Seed, AdWorld.StreamClicks);
        _policyRng = SimRandom.ForStream(world.Seed, AdWorld.StreamPolicy);
        _spentToday = new double[_campaigns.Length];
        _active = new int[_campaigns.Length];

        // Times at which the set of live campaigns changes, sorted.
        var boundaries = new List<long>(_campaigns.Length * 2);
        foreach (var c in _campaigns)
        {
            if (c.Start > world.Start && c.Start < world.End)
            {
                boundaries.Add(c.Start.Ticks);
            }

            if (c.End > world.Start && c.End < world.End)
            {
                boundaries.Add(c.End.Ticks);
            }
        }

        boundaries.Sort();
        _boundaries = [.. boundaries];
    }

    public AdWorld World => _world;

    /// <summary>Clicks drawn so far in this run.</summary>
    public long Clicks { get; private set; }

    /// <summary>Impressions shown so far in this run.</summary>
    public long Shown { get; private set; }

    /// <summary>
    /// Requests in time order until the world's end. Requests that find no live campaign with budget left are
    /// skipped. At most <c>min(candidatesPerRequest, live campaigns)</c> candidates, one ad per campaign.
    /// </summary>
    public IEnumerable<SimRequest> Requests()
    {
        if (_started)
        {
            throw new InvalidOperationException("A simulation run's requests can be enumerated once; start another run.");
        }

        _started = true;
        return RequestsIterator();
    }

    /// <summary>
    /// Shows an ad for a request: draws the click with the true probability and, for a click, the delay; charges the
    /// campaign's daily budget (cost per click = bid) and pauses the campaign when it is spent.
    /// </summary>
    public SimImpression Show(in SimRequest request, int adIndex)
    {
        var p = _world.TrueClickProbability(request, adIndex);
        var clicked = _clickRng.NextDouble() < p;
        var delay = 0.0;
        Shown++;
        if (clicked)
        {
            Clicks++;
            delay = DrawDelay();
            var campaign = _campaigns[_ads[adIndex].CampaignIndex];
            _spentToday[campaign.Index] += campaign.Bid;
            if (_spentToday[campaign.Index] >= campaign.DailyBudget)
            {
                _activeDirty = true;
            }
        }

        return new SimImpression(request, adIndex, p, clicked, delay);
    }

    /// <summary>
    /// One impression per request: the shown ad is drawn among the candidates with probability proportional to
    /// its campaign's bid (a randomised auction, so every candidate gets shown sometimes).
    /// </summary>
    public IEnumerable<SimImpression> Impressions()
    {
        foreach (var request in Requests())
        {
            yield return Show(request, ChooseByBid(request));
        }
    }

    private int ChooseByBid(in SimRequest request)
    {
        var candidates = request.Candidates;
        var total = 0.0;
        foreach (var ad in candidates)
        {
            total += _campaigns[_ads[ad].CampaignIndex].Bid;
        }

        var target = _policyRng.NextDouble() * total;
        for (var i = 0; i < candidates.Length - 1; i++)
        {
            target -= _campaigns[_ads[candidates[i]].CampaignIndex].Bid;
            if (target < 0)
            {
                return candidates[i];
            }
        }

        return candidates[^1];
    }

    private double DrawDelay()
    {
        if (_world.Scenario.ClickDelay is not { } d)
        {
            return 0;
        }

        return d.Distribution switch
        {
            // ln D ~ N(mu, sigma).
            ClickDelayDefinition.LogNormal => Math.Exp(d.Mu + (d.Sigma * _clickRng.NextGaussian())),

            // Inverse transform of P(D > x) = (scale / x)^shape.
            ClickDelayDefinition.Pareto => d.ScaleSeconds / Math.Pow(_clickRng.NextDoubleNonZero(), 1.0 / d.Shape),
            _ => _clickRng.NextExponential(1.0 / d.MeanSeconds),
        };
    }

    private IEnumerable<SimRequest> RequestsIterator()
    {
        var world = _world;
        var scenario = world.Scenario;
        var startTicks = world.Start.Ticks;
        var endTicks = world.End.Ticks;
        var maxRate = world.MaxRatePerSecond;
        var users = scenario.Users;
        var positions = scenario.Positions;
        var n = scenario.CandidatesPerRequest;
        var seconds = 0.0;
        var nextBoundary = 0;
        var currentDay = 0L;
        var id = 0L;

        // Bounded: every iteration advances simulated time by a positive exponential step, and the loop ends at
        // the world's end.
        while (true)
        {
            seconds += _requestRng.NextExponential(maxRate);
            var ticks = startTicks + ((long)(seconds * 1000) * TimeSpan.TicksPerMillisecond);
            if (ticks >= endTicks)
            {
                yield break;
            }

            var time = new DateTime(ticks, DateTimeKind.Utc);

            // Thinning (Lewis and Shedler 1979): accept with rate(t) / maxRate.
            if (_requestRng.NextDouble() * maxRate >= world.ArrivalRatePerSecond(time))
            {
                continue;
            }

            var day = (ticks - startTicks) / TimeSpan.TicksPerDay;
            if (day != currentDay)
            {
                currentDay = day;
                Array.Clear(_spentToday);
                _activeDirty = true;
            }

            while (nextBoundary < _boundaries.Length && _boundaries[nextBoundary] <= ticks)
            {
                nextBoundary++;
                _activeDirty = true;
            }

            if (_activeDirty)
            {
                RebuildActive(time);
            }

            if (_activeCount == 0)
            {
                continue;
            }

            var userIndex = _requestRng.NextInt(users);
            var site = _requestRng.NextFromCumulative(world.SiteCumulative);
            var position = 1 + _requestRng.NextInt(positions);
            var context = new SimContext(site, position, time.Hour, WorldVocabulary.IsoWeekday(time));

            // Partial Fisher-Yates over the live campaigns: k distinct ones, one of each campaign's ads.
            var k = Math.Min(n, _activeCount);
            var candidates = new int[k];
            for (var i = 0; i < k; i++)
            {
                var j = i + _requestRng.NextInt(_activeCount - i);
                (_active[i], _active[j]) = (_active[j], _active[i]);
                var campaign = _campaigns[_active[i]];
                candidates[i] = campaign.FirstAd + _requestRng.NextInt(campaign.AdCount);
            }

            yield return new SimRequest(id++, time, userIndex, context, candidates);
        }
    }

    private void RebuildActive(DateTime time)
    {
        _activeCount = 0;
        foreach (var c in _campaigns)
        {
            if (c.IsLive(time) && _spentToday[c.Index] < c.DailyBudget)
            {
                _active[_activeCount++] = c.Index;
            }
        }

        _activeDirty = false;
    }
}
