using System.Reflection;
using System.Text;

namespace Presence.Core.Tests;

/// <summary>
/// Tracks each package's public surface in <c>PublicAPI.Shipped.txt</c> + <c>PublicAPI.Unshipped.txt</c> beside its
/// project (the analyzer package is not in the feed). A change to the surface fails here until the files say so:
/// run the tests with <c>PRESENCE_UPDATE_PUBLIC_API=1</c> to rewrite <c>PublicAPI.Unshipped.txt</c>, then review the diff.
/// </summary>
public sealed class PublicApiTests
{
    [TestCase(typeof(UserId), "Presence.Core.Abstractions")]
    [TestCase(typeof(PresenceEngine), "Presence.Core")]
    public void PublicSurface_MatchesTheTrackedFiles(Type anchor, string project)
    {
        var actual = Render(anchor.Assembly);
        string folder = Path.Combine(RepositoryPaths.Root(), "src", project);
        string shippedPath = Path.Combine(folder, "PublicAPI.Shipped.txt");
        string unshippedPath = Path.Combine(folder, "PublicAPI.Unshipped.txt");
        var shipped = File.Exists(shippedPath) ? ReadLines(shippedPath) : [];
        var tracked = shipped.Concat(File.Exists(unshippedPath) ? ReadLines(unshippedPath) : []).ToHashSet(StringComparer.Ordinal);

        if (Environment.GetEnvironmentVariable("PRESENCE_UPDATE_PUBLIC_API") == "1")
        {
            File.WriteAllLines(unshippedPath, actual.Where(line => !shipped.Contains(line)));
            tracked = actual.ToHashSet(StringComparer.Ordinal);
        }

        var added = actual.Where(line => !tracked.Contains(line)).ToList();
        var removed = tracked.Where(line => !actual.Contains(line)).Order(StringComparer.Ordinal).ToList();
        Assert.That(added.Count + removed.Count, Is.Zero, Describe(project, added, removed));
    }

    private static string Describe(string project, List<string> added, List<string> removed)
    {
        var text = new StringBuilder($"The public API of {project} changed; update src/{project}/PublicAPI.Unshipped.txt (PRESENCE_UPDATE_PUBLIC_API=1).");
        foreach (var line in added)
        {
            text.Append("\n+ ").Append(line);
        }

        foreach (var line in removed)
        {
            text.Append("\n- ").Append(line);
        }

        return text.ToString();
    }

    private static List<string> ReadLines(string path)
        => File.ReadAllLines(path).Where(static l => l.Length > 0 && !l.StartsWith('#')).ToList();


    private static List<string> Render(Assembly assembly)
    {
        const BindingFlags Declared = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes())
        {
            string name = Name(type);
            string kind = type.IsInterface ? "interface" : type.IsEnum ? "enum" : type.IsValueType ? "struct" : type.IsAbstract && type.IsSealed ? "static class" : type.IsSealed ? "sealed class" : "class";
            lines.Add($"{kind} {name}");
            foreach (var member in type.GetMembers(Declared))
            {
                string? line = member switch
                {
                    ConstructorInfo c => $"{name}.ctor({Parameters(c)})",
                    MethodInfo m when !m.IsSpecialName || m.Name.StartsWith("op_", StringComparison.Ordinal) =>
                        $"{(m.IsStatic ? "static " : string.Empty)}{name}.{m.Name}{Generics(m)}({Parameters(m)}) -> {Name(m.ReturnType)}",
                    PropertyInfo p => $"{(p.GetMethod?.IsStatic == true ? "static " : string.Empty)}{name}.{p.Name} {{ {(p.GetMethod?.IsPublic == true ? "get; " : string.Empty)}{(p.SetMethod?.IsPublic == true ? "set; " : string.Empty)}}} -> {Name(p.PropertyType)}",
                    FieldInfo f when type.IsEnum && f.IsStatic => $"{name}.{f.Name} = {Convert.ToInt64(f.GetRawConstantValue(), System.Globalization.CultureInfo.InvariantCulture)}",
                    FieldInfo f when !type.IsEnum => $"{(f.IsLiteral ? "const " : f.IsStatic ? "static readonly " : string.Empty)}{name}.{f.Name} -> {Name(f.FieldType)}",
                    EventInfo e => $"event {name}.{e.Name} -> {Name(e.EventHandlerType!)}",
                    _ => null,
                };
                if (line is not null)
                {
                    lines.Add(line);
                }
            }
        }

        lines.Sort(StringComparer.Ordinal);
        return lines;
    }

    private static string Generics(MethodInfo method)
        => method.IsGenericMethodDefinition ? "<" + string.Join(", ", method.GetGenericArguments().Select(static a => a.Name)) + ">" : string.Empty;

    private static string Parameters(MethodBase method)
        => string.Join(", ", method.GetParameters().Select(static p => $"{(p.IsOut ? "out " : p.ParameterType.IsByRef ? "ref " : string.Empty)}{Name(p.ParameterType)} {p.Name}{(p.HasDefaultValue ? " = " + (p.DefaultValue ?? "null") : string.Empty)}"));

    private static string Name(Type type)
    {
        if (type.IsByRef)
        {
            return Name(type.GetElementType()!);
        }

        if (type.IsArray)
        {
            return Name(type.GetElementType()!) + "[]";
        }

        if (type.IsGenericParameter)
        {
            return type.Name;
        }

        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            return Name(underlying) + "?";
        }

        string name = type.FullName is { } full && !type.IsGenericType ? full : $"{type.Namespace}.{type.Name}";
        if (type.IsGenericType)
        {
            name = name[..name.IndexOf('`', StringComparison.Ordinal)] + "<" + string.Join(", ", type.GetGenericArguments().Select(Name)) + ">";
        }

        return name.Replace('+', '.');
    }
}
