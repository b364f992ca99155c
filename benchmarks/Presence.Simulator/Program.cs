using System.Diagnostics;
using System.Globalization;
using Presence.Simulator;

// Federation traffic simulator: one seeded trace, replayed for each strategy. See README.md beside this file.
var options = new WorkloadOptions();
string? output = null;
var strategies = Simulation.AllStrategies.ToList();
bool shared = true, excluded = true;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    double Number() => double.Parse(Next(), CultureInfo.InvariantCulture);
    switch (args[i])
    {
        case "--out": output = Next(); break;
        case "--seed": options.Seed = (int)Number(); break;
        case "--servers": options.Servers = (int)Number(); break;
        case "--users": options.Users = (int)Number(); break;
        case "--hours": options.Duration = TimeSpan.FromHours(Number()); break;
        case "--minutes": options.Duration = TimeSpan.FromMinutes(Number()); break;
        case "--skew": options.Skew = Number(); break;
        case "--big-rooms": options.BigRooms = Next().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
        case "--multi-account": options.MultiAccountShare = Number(); break;
        case "--lists": options.ListShare = Number(); break;
        case "--latency-ms": options.Latency = TimeSpan.FromMilliseconds(Number()); break;
        case "--outage-server": options.OutageServer = (int)Number(); break;
        case "--outage-start-min": options.OutageStart = TimeSpan.FromMinutes(Number()); break;
        case "--outage-min": options.OutageLength = TimeSpan.FromMinutes(Number()); break;
        case "--view-sample": options.ViewSample = (int)Number(); break;
        case "--strategies": strategies = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries)]; break;
        case "--only-shared": excluded = false; break;
        case "--only-excluded": shared = false; break;
        default:
            Console.Error.WriteLine($"Unknown flag {args[i]}. Flags: --out DIR --seed N --servers N --users N --hours H | --minutes M --skew S --big-rooms 0.8,0.55,0.35 --multi-account F --lists F --latency-ms MS --outage-server I --outage-start-min M --outage-min M --view-sample N --strategies naive,synapse,dendrite,engine --only-shared --only-excluded");
            return 2;
    }
}

var watch = Stopwatch.StartNew();
var results = await Simulation.RunAsync(options, strategies, shared, excluded, Console.Out);
watch.Stop();
string table = Report.Table(results);
Console.WriteLine(table);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wall time: {watch.Elapsed.TotalSeconds:F0} s"));
if (output is not null)
{
    Report.Charts(results, output);
    string commit = Environment.GetEnvironmentVariable("SIM_ENGINE_COMMIT") ?? "unknown";
    File.WriteAllText(Path.Combine(output, "results.md"), Report.Markdown(results, options, table, watch.Elapsed, commit, args));
}

return 0;
