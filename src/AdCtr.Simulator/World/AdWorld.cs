using System.Runtime.CompilerServices;

namespace AdCtr.Simulator.World;

/// <summary>The interaction tables of the true click model (rows x columns).</summary>
public enum Interaction
{
    /// <summary>user_age (rows) x ad_category (columns).</summary>
    AgeCategory,

    /// <summary>interest x ad_category.</summary>
    InterestCategory,

    /// <summary>site x ad_category (context x ad).</summary>
    SiteCategory,

    /// <summary>device x hour.</summary>
    DeviceHour,
}

/// <summary>
/// A synthetic ad world with a known truth, built deterministically from (scenario, seed): advertisers, campaigns
/// and their ads, users, sites, and the true click model
/// <code>
/// logit = baseLogit + shockShift(t)
///       + main(user_age) + main(gender) + main(region) + main(device) + main(interest)
///       + main(site) - positionDecay * (position - 1) + main(hour) + main(weekday) + main(ad_category)
///       + campaignEffect + adEffect
///       + AgeCategory[user_age, ad_category](t) + InterestCategory[interest, ad_category](t)
///       + SiteCategory[site, ad_category](t) + DeviceHour[device, hour](t)
/// p = sigmoid(logit)
/// </code>
/// Every term is a function of fields written in the output record (plus time, through drift and shock), so a
/// logistic model with those fields and the four crosses can represent the truth exactly and one without the
/// crosses cannot. Drift moves the interaction tables by a daily Gaussian random walk, linearly interpolated
/// within a day; a shock adds a base shift and a fresh interest x ad_category perturbation while it lasts.
/// The world is immutable after <see cref="Create"/> and safe to read from several threads; the mutable parts of a
/// simulation (arrivals, budgets, clicks) live in a <see cref="SimulationRun"/>.
/// </summary>
public sealed class AdWorld
{
    // PRNG stream ids: each part of the world draws from its own stream (see SimRandom.ForStream).
    internal const ulong StreamConstruction = 1;
    internal const ulong StreamLaunches = 2;
    internal const ulong StreamDrift = 3;
    internal const ulong StreamShock = 4;
    internal const ulong StreamRequests = 10;
    internal const ulong StreamClicks = 11;
    internal const ulong StreamPolicy = 12;
    internal const ulong StreamDownsampling = 13;

    private const double AdvertiserCategoryLoyalty = 0.7;

    private readonly int _categories;
    private readonly double[] _mainAge;
    private readonly double[] _mainGender;
    private readonly double[] _mainRegion;
    private readonly double[] _mainDevice;
    private readonly double[] _mainInterest;
    private readonly double[] _mainSite;
    private readonly double[] _mainPosition;
    private readonly double[] _mainHour;
    private readonly double[] _mainWeekday;
    private readonly double[] _mainCategory;

    // All interaction tables in one flat array; _offsets[(int)Interaction] is where a table starts.
    private readonly int[] _offsets;
    private readonly int[] _columns;
    private readonly double[] _interactions;

    // Drift: cumulative random walk at day boundaries 0..days, flat [(days + 1) * K]; null when there is no drift.
    private readonly double[]? _drift;
    private readonly int _driftDays;

    // Shock: interest x ad_category perturbation while active.
    private readonly double[]? _shockDelta;
    private readonly long _shockStartTicks;
    private readonly long _shockEndTicks;
    private readonly double _shockShift;

    private readonly SimUser[] _users;
    private readonly Campaign[] _campaigns;
    private readonly Ad[] _ads;
    private readonly double[] _siteCumulative;
    private readonly double _maxRatePerSecond;
    private readonly double[]? _hourlyRate;

    private AdWorld(ScenarioDefinition scenario, ulong seed)
    {
        scenario.Validate();
        Scenario = scenario;
        Seed = seed;
        Start = scenario.Start;
        End = scenario.Start.AddTicks((long)Math.Round(scenario.DurationDays * TimeSpan.TicksPerDay));
        var rng = SimRandom.ForStream(seed, StreamConstruction);
        var e = scenario.Effects;
        _categories = WorldVocabulary.Categories.Length;

        var regions = new string[scenario.Regions];
        for (var i = 0; i < regions.Length; i++)
        {
            regions[i] = "r" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        Regions = regions;
        Positions = WorldVocabulary.Numbers(1, scenario.Positions);

        // Users.
        var ageCum = Cumulative(WorldVocabulary.AgeWeights);
        var genderCum = Cumulative(WorldVocabulary.GenderWeights);
        var deviceCum = Cumulative(WorldVocabulary.DeviceWeights);
        var users = new SimUser[scenario.Users];
        for (var i = 0; i < users.Length; i++)
        {
            users[i] = new SimUser(
                i,
                (byte)rng.NextFromCumulative(ageCum),
                (byte)rng.NextFromCumulative(genderCum),
                rng.NextInt(scenario.Regions),
                (byte)rng.NextFromCumulative(deviceCum),
                (byte)rng.NextInt(WorldVocabulary.Interests.Length));
        }

        _users = users;
        Users = users;

        // Sites and apps; popularity is Zipf-like (weight 1 / (rank + 1)^0.9).
        var sites = new Site[scenario.Sites];
        _siteCumulative = new double[scenario.Sites];
        int webCount = 0, appCount = 0;
        var total = 0.0;
        for (var i = 0; i < sites.Length; i++)
        {
            var isApp = rng.NextDouble() < scenario.AppFraction;
            sites[i] = new Site(i, isApp, isApp ? appCount++ : webCount++);
            total += 1.0 / Math.Pow(i + 1, 0.9);
            _siteCumulative[i] = total;
        }

        Sites = sites;

        // Main effects and interaction tables.
        _mainAge = Gaussians(rng, WorldVocabulary.AgeBands.Length, e.MainSd);
        _mainGender = Gaussians(rng, WorldVocabulary.Genders.Length, e.MainSd);
        _mainRegion = Gaussians(rng, scenario.Regions, e.MainSd);
        _mainDevice = Gaussians(rng, WorldVocabulary.Devices.Length, e.MainSd);
        _mainInterest = Gaussians(rng, WorldVocabulary.Interests.Length, e.MainSd);
        _mainSite = Gaussians(rng, scenario.Sites, e.MainSd);
        _mainHour = Gaussians(rng, 24, e.TimeSd);
        _mainWeekday = Gaussians(rng, 7, e.TimeSd);
        _mainCategory = Gaussians(rng, _categories, e.MainSd);
        _mainPosition = new double[scenario.Positions];
        for (var p = 0; p < _mainPosition.Length; p++)
        {
            _mainPosition[p] = -e.PositionDecay * p;
        }

        _columns = [_categories, _categories, _categories, 24];
        var rows = new[] { WorldVocabulary.AgeBands.Length, WorldVocabulary.Interests.Length, scenario.Sites, WorldVocabulary.Devices.Length };
        var sds = new[] { e.AgeCategorySd, e.InterestCategorySd, e.SiteCategorySd, e.DeviceHourSd };
        _offsets = new int[4];
        var k = 0;
        for (var t = 0; t < 4; t++)
        {
            _offsets[t] = k;
            k += rows[t] * _columns[t];
        }

        _interactions = new double[k];
        for (var t = 0; t < 4; t++)
        {
            for (var i = _offsets[t]; i < _offsets[t] + (rows[t] * _columns[t]); i++)
            {
                _interactions[i] = rng.NextGaussian(0, sds[t]);
            }
        }

        // Advertisers and the initial campaigns.
        var advertisers = new List<Advertiser>(scenario.Advertisers);
        for (var i = 0; i < scenario.Advertisers; i++)
        {
            advertisers.Add(new Advertiser(i, rng.NextInt(_categories)));
        }

        var campaigns = new List<Campaign>(scenario.Campaigns);
        var ads = new List<Ad>(scenario.Campaigns * scenario.MaxAdsPerCampaign);
        var cold = scenario.ColdStart;
        for (var i = 0; i < scenario.Campaigns; i++)
        {
            DateTime start, end;
            if (cold is null)
            {
                start = Start.AddDays(-30);
                end = DateTime.MaxValue;
            }
            else
            {
                // Already part-way through a lifetime, so the initial population expires gradually.
                var lifetime = cold.LifetimeDays * rng.NextDouble(0.5, 1.5);
                start = RoundToMillisecond(Start.AddDays(-lifetime * rng.NextDouble()));
                end = RoundToMillisecond(start.AddDays(lifetime));
            }

            AddCampaign(rng, advertisers[rng.NextInt(advertisers.Count)], start, end, campaigns, ads);
        }

        // Cold start: Poisson launches per day, in time order, from their own stream.
        if (cold is not null)
        {
            var launchRng = SimRandom.ForStream(seed, StreamLaunches);
            var days = (int)Math.Ceiling(scenario.DurationDays);
            var times = new List<double>();
            for (var d = 0; d < days; d++)
            {
                times.Clear();
                var n = launchRng.NextPoisson(cold.LaunchesPerDay);
                for (var j = 0; j < n; j++)
                {
                    times.Add(d + launchRng.NextDouble());
                }

                times.Sort();
                foreach (var day in times)
                {
                    var start = RoundToMillisecond(Start.AddDays(day));
                    if (start >= End)
                    {
                        continue;
                    }

                    var lifetime = cold.LifetimeDays * launchRng.NextDouble(0.5, 1.5);
                    Advertiser advertiser;
                    if (launchRng.NextDouble() < cold.NewAdvertiserProbability)
                    {
                        advertiser = new Advertiser(advertisers.Count, launchRng.NextInt(_categories));
                        advertisers.Add(advertiser);
                    }
                    else
                    {
                        advertiser = advertisers[launchRng.NextInt(advertisers.Count)];
                    }

                    AddCampaign(launchRng, advertiser, start, RoundToMillisecond(start.AddDays(lifetime)), campaigns, ads);
                }
            }
        }

        Advertisers = [.. advertisers];
        _campaigns = [.. campaigns];
        _ads = [.. ads];
        Campaigns = _campaigns;
        Ads = _ads;

        // Drift: the walk's value at each day boundary.
        if (scenario.Drift is { SdPerDay: > 0 } drift)
        {
            var driftRng = SimRandom.ForStream(seed, StreamDrift);
            _driftDays = (int)Math.Ceiling(scenario.DurationDays);
            _drift = new double[(_driftDays + 1) * k];
            for (var d = 1; d <= _driftDays; d++)
            {
                for (var i = 0; i < k; i++)
                {
                    _drift[(d * k) + i] = _drift[((d - 1) * k) + i] + driftRng.NextGaussian(0, drift.SdPerDay);
                }
            }
        }

        if (scenario.Shock is { } shock)
        {
            var shockRng = SimRandom.ForStream(seed, StreamShock);
            _shockDelta = Gaussians(shockRng, WorldVocabulary.Interests.Length * _categories, shock.InteractionSd);
            _shockStartTicks = shock.At.Ticks;
            _shockEndTicks = shock.DurationHours > 0
                ? shock.At.AddTicks((long)Math.Round(shock.DurationHours * TimeSpan.TicksPerHour)).Ticks
                : long.MaxValue;
            _shockShift = shock.LogitShift;
        }

        // Arrival rate: thinning needs the maximum rate.
        var arrivals = scenario.Arrivals;
        if (arrivals.HourlyWeights is { } weights)
        {
            var mean = 0.0;
            foreach (var w in weights)
            {
                mean += w / 24;
            }

            _hourlyRate = new double[24];
            var max = 0.0;
            for (var h = 0; h < 24; h++)
            {
                _hourlyRate[h] = arrivals.RequestsPerHour * weights[h] / mean / 3600;
                max = Math.Max(max, _hourlyRate[h]);
            }

            _maxRatePerSecond = max;
        }
        else
        {
            _maxRatePerSecond = arrivals.RequestsPerHour * (1 + arrivals.DailyAmplitude) / 3600;
        }
    }

    public ScenarioDefinition Scenario { get; }

    public ulong Seed { get; }

    /// <summary>Time of the first possible request.</summary>
    public DateTime Start { get; }

    /// <summary>Exclusive end of simulated time (start + durationDays).</summary>
    public DateTime End { get; }

    public IReadOnlyList<Advertiser> Advertisers { get; }

    /// <summary>All campaigns, initial ones first, then launches in start order.</summary>
    public IReadOnlyList<Campaign> Campaigns { get; }

    public IReadOnlyList<Ad> Ads { get; }

    public IReadOnlyList<SimUser> Users { get; }

    public IReadOnlyList<Site> Sites { get; }

    /// <summary>Region names "r0".."rN".</summary>
    public IReadOnlyList<string> Regions { get; }

    /// <summary>Position names "1".."P".</summary>
    public IReadOnlyList<string> Positions { get; }

    internal ReadOnlySpan<double> SiteCumulative => _siteCumulative;

    internal double MaxRatePerSecond => _maxRatePerSecond;

    internal Campaign[] CampaignArray => _campaigns;

    internal SimUser[] UserArray => _users;

    internal Ad[] AdArray => _ads;

    /// <summary>Builds the world for <paramref name="scenario"/>; the same (scenario, seed) always gives the same world.</summary>
    public static AdWorld Create(ScenarioDefinition scenario, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        return new AdWorld(scenario, seed);
    }

    /// <summary>Starts a simulation: a fresh request stream, budgets and click draws (all from the world's seed).</summary>
    public SimulationRun StartRun() => new(this);

    /// <summary>
    /// Labeled examples of a fresh run: one per impression (the shown ad chosen among the candidates with
    /// probability proportional to its bid), negatives kept with probability r = negativeDownsampling and
    /// weighted 1/r.
    /// </summary>
    public IEnumerable<ExampleRecord> Examples()
    {
        var run = StartRun();
        var rate = Scenario.NegativeDownsampling;
        var negativeWeight = 1.0 / rate;
        var sampler = SimRandom.ForStream(Seed, StreamDownsampling);
        foreach (var impression in run.Impressions())
        {
            if (impression.Clicked)
            {
                yield return ExampleRecord.From(this, impression, 1.0);
            }
            else if (rate >= 1.0)
            {
                yield return ExampleRecord.From(this, impression, 1.0);
            }
            else if (sampler.NextDouble() < rate)
            {
                yield return ExampleRecord.From(this, impression, negativeWeight);
            }
        }
    }

    /// <summary>Arrival rate (requests per second) at a time, following the daily cycle.</summary>
    public double ArrivalRatePerSecond(DateTime time)
    {
        if (_hourlyRate is not null)
        {
            return _hourlyRate[time.Hour];
        }

        var a = Scenario.Arrivals;
        var hour = time.TimeOfDay.TotalHours;
        return a.RequestsPerHour * (1 + (a.DailyAmplitude * Math.Cos(2 * Math.PI * (hour - a.PeakHour) / 24))) / 3600;
    }

    /// <summary>The true click probability of showing ad <paramref name="adIndex"/> to a user in a context at a time.</summary>
    public double TrueClickProbability(int userIndex, in SimContext context, int adIndex, DateTime time) =>
        Sigmoid(TrueLogit(userIndex, context, adIndex, time));

    /// <summary>The true click probability of showing ad <paramref name="adIndex"/> for a request.</summary>
    public double TrueClickProbability(in SimRequest request, int adIndex) =>
        Sigmoid(TrueLogit(request.UserIndex, request.Context, adIndex, request.Time));

    /// <summary>
    /// The true logit (see the class summary). The context's hour and weekday enter the main effects and the
    /// device x hour table; <paramref name="time"/> selects the drift and shock state.
    /// </summary>
    public double TrueLogit(int userIndex, in SimContext context, int adIndex, DateTime time)
    {
        var ad = _ads[adIndex];
        var campaign = _campaigns[ad.CampaignIndex];
        ref readonly var user = ref _users[userIndex];
        var cat = campaign.Category;
        var logit = Scenario.Effects.BaseLogit
            + _mainAge[user.AgeBand] + _mainGender[user.Gender] + _mainRegion[user.Region]
            + _mainDevice[user.Device] + _mainInterest[user.Interest]
            + _mainSite[context.SiteIndex] + _mainPosition[context.Position - 1]
            + _mainHour[context.Hour] + _mainWeekday[context.Weekday - 1] + _mainCategory[cat]
            + campaign.Effect + ad.Effect;

        var ageCell = _offsets[(int)Interaction.AgeCategory] + (user.AgeBand * _categories) + cat;
        var interestCell = _offsets[(int)Interaction.InterestCategory] + (user.Interest * _categories) + cat;
        var siteCell = _offsets[(int)Interaction.SiteCategory] + (context.SiteIndex * _categories) + cat;
        var deviceCell = _offsets[(int)Interaction.DeviceHour] + (user.Device * 24) + context.Hour;
        logit += _interactions[ageCell] + _interactions[interestCell] + _interactions[siteCell] + _interactions[deviceCell];

        if (_drift is not null)
        {
            DriftPosition(time, out var day, out var frac);
            logit += DriftAt(ageCell, day, frac) + DriftAt(interestCell, day, frac) + DriftAt(siteCell, day, frac) + DriftAt(deviceCell, day, frac);
        }

        if (_shockDelta is not null && time.Ticks >= _shockStartTicks && time.Ticks < _shockEndTicks)
        {
            logit += _shockShift + _shockDelta[(user.Interest * _categories) + cat];
        }

        return logit;
    }

    /// <summary>
    /// The value of one interaction cell at a time (base + drift + shock where the shock touches the table).
    /// Rows and columns index the vocabularies named by <paramref name="table"/>.
    /// </summary>
    public double InteractionEffect(Interaction table, int row, int column, DateTime time)
    {
        var (rows, columns) = InteractionShape(table);
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, rows);
        ArgumentOutOfRangeException.ThrowIfNegative(column);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(column, columns);
        var cell = _offsets[(int)table] + (row * columns) + column;
        var value = _interactions[cell];
        if (_drift is not null)
        {
            DriftPosition(time, out var day, out var frac);
            value += DriftAt(cell, day, frac);
        }

        if (table == Interaction.InterestCategory && _shockDelta is not null && time.Ticks >= _shockStartTicks && time.Ticks < _shockEndTicks)
        {
            value += _shockDelta[(row * columns) + column];
        }

        return value;
    }

    /// <summary>Rows and columns of an interaction table.</summary>
    public (int Rows, int Columns) InteractionShape(Interaction table) => table switch
    {
        Interaction.AgeCategory => (WorldVocabulary.AgeBands.Length, _categories),
        Interaction.InterestCategory => (WorldVocabulary.Interests.Length, _categories),
        Interaction.SiteCategory => (Sites.Count, _categories),
        Interaction.DeviceHour => (WorldVocabulary.Devices.Length, 24),
        _ => throw new ArgumentOutOfRangeException(nameof(table)),
    };

    /// <summary>Logistic function.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Sigmoid(double x) => 1.0 / (1.0 + Math.Exp(-x));

    internal static DateTime RoundToMillisecond(DateTime time) =>
        new(time.Ticks - (time.Ticks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void DriftPosition(DateTime time, out int day, out double frac)
    {
        var days = (double)(time.Ticks - Start.Ticks) / TimeSpan.TicksPerDay;
        if (days <= 0)
        {
            day = 0;
            frac = 0;
        }
        else if (days >= _driftDays)
        {
            day = _driftDays;
            frac = 0;
        }
        else
        {
            day = (int)days;
            frac = days - day;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private double DriftAt(int cell, int day, double frac)
    {
        var k = _interactions.Length;
        var a = _drift![(day * k) + cell];
        return frac == 0 ? a : a + (frac * (_drift[((day + 1) * k) + cell] - a));
    }

    private void AddCampaign(SimRandom rng, Advertiser advertiser, DateTime start, DateTime end, List<Campaign> campaigns, List<Ad> ads)
    {
        var s = Scenario;
        var category = rng.NextDouble() < AdvertiserCategoryLoyalty ? advertiser.PrimaryCategory : rng.NextInt(_categories);
        var bid = Math.Round(rng.NextDouble(s.Bid.Min, s.Bid.Max), 4);
        var budget = s.DailyBudget is { } b ? Math.Round(rng.NextDouble(b.Min, b.Max), 2) : double.PositiveInfinity;
        var effect = rng.NextGaussian(0, s.Effects.CampaignSd);
        var adCount = 1 + rng.NextInt(s.MaxAdsPerCampaign);
        var campaign = new Campaign(campaigns.Count, advertiser.Index, category, bid, budget, start, end, effect, ads.Count, adCount);
        campaigns.Add(campaign);
        for (var a = 0; a < adCount; a++)
        {
            ads.Add(new Ad(ads.Count, campaign, a + 1, rng.NextGaussian(0, s.Effects.AdSd)));
        }
    }

    private static double[] Gaussians(SimRandom rng, int n, double sd)
    {
        var result = new double[n];
        for (var i = 0; i < n; i++)
        {
            result[i] = rng.NextGaussian(0, sd);
        }

        return result;
    }

    private static double[] Cumulative(double[] weights)
    {
        var result = new double[weights.Length];
        var sum = 0.0;
        for (var i = 0; i < weights.Length; i++)
        {
            sum += weights[i];
            result[i] = sum;
        }

        return result;
    }
}
