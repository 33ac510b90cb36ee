/* shipahead dispatcher console.
 *
 * Plain JavaScript over the service's HTTP API (no build step, no CDN; Leaflet is served from
 * static/vendor). Every string that comes from a problem, a plan or an event is put on the
 * page with textContent or as an attribute value, never parsed as HTML.
 */
(function () {
  'use strict';

  // colour per vehicle (cycled): the palette of the routes map and the KML files
  var PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442',
    '#000000', '#4E79A7', '#F28E2B', '#59A14F', '#B07AA1'];
  var STOP_TYPES = {job: true, pickup: true, delivery: true};
  var EPOCH_FROM_S = 1000000000;  // times from here on are UNIX times (routing.exports)
  var ROAD_STYLE = [
    {color: '#9a9a9a', weight: 3.5}, {color: '#b0b0b0', weight: 2.2}, {color: '#c6c6c6', weight: 1}
  ];
  var ACTIVE = {queued: true, solving: true};
  var LANE_PX = 7;  // timeline: height of one stop's lane

  var S = {
    token: sessionStorage.getItem('shipahead-token') || '',
    config: {tiles: null},
    plans: [],
    planId: null,
    plan: null,        // GET /v1/plans/{id}
    problem: null,     // the VROOM problem of the plan (time windows, descriptions, locations)
    geometry: null,    // vehicle id -> [[lon, lat], ...]
    revision: null,    // GET /v1/plans/{id}/revisions/{n} of the shown revision
    previous: null,    // the revision before it (ETA shifts)
    stream: null,
    pollTimer: null,
    fitted: null,      // plan id whose bounds the map was fitted to
    map: null,
    routeLayer: null,
    pickMarker: null,
    baseLoaded: false
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function say(text, bad) {
    var m = $('message');
    m.textContent = text || '';
    m.classList.toggle('bad', !!bad);
  }

  // ---- time ---------------------------------------------------------------------------------

  function pad2(n) { return (n < 10 ? '0' : '') + n; }

  /** seconds in the problem's frame -> "HH:MM" (24:00-47:59 = the next day) or UTC date-time */
  function clock(t) {
    if (t === null || t === undefined || !isFinite(t)) return '';
    if (t >= EPOCH_FROM_S) {
      var d = new Date(t * 1000);
      return d.getUTCFullYear() + '-' + pad2(d.getUTCMonth() + 1) + '-' + pad2(d.getUTCDate()) +
        ' ' + pad2(d.getUTCHours()) + ':' + pad2(d.getUTCMinutes()) + ' UTC';
    }
    var m = Math.floor(t / 60 + 0.5);
    return pad2(Math.floor(m / 60)) + ':' + pad2(m % 60);
  }

  /** "HH:MM" -> seconds from midnight of the plan's day frame (null when blank) */
  function parseClock(text) {
    var v = String(text || '').trim();
    if (!v) return null;
    var m = /^(\d{1,2}):([0-5]\d)$/.exec(v);
    if (!m) throw new Error('"' + v + '" is not a time of day (HH:MM)');
    var s = parseInt(m[1], 10) * 3600 + parseInt(m[2], 10) * 60;
    if (s >= 48 * 3600) throw new Error('"' + v + '" is past 47:59');
    return s;
  }

  /** the day frame of a plan whose times are UNIX times: UTC midnight of its first time */
  function frameBase() {
    var t = null;
    routes().forEach(function (r) {
      (r.steps || []).forEach(function (s) {
        if (typeof s.arrival === 'number' && (t === null || s.arrival < t)) t = s.arrival;
      });
    });
    return t !== null && t >= EPOCH_FROM_S ? t - (t % 86400) : 0;
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  function headers(extra) {
    var h = extra || {};
    if (S.token) h.Authorization = 'Bearer ' + S.token;
    return h;
  }

  function errorText(status, body) {
    if (body && typeof body === 'object') {
      var d = body.detail !== undefined ? body.detail : body.error;
      if (typeof d === 'string') return d;
      if (Array.isArray(d) && d.length) {
        return d.map(function (x) {
          var loc = Array.isArray(x.loc) ? x.loc.join('.') + ': ' : '';
          return loc + (x.msg || JSON.stringify(x));
        }).join('; ');
      }
      if (d) return JSON.stringify(d);
    }
    return 'HTTP ' + status;
  }

  function api(method, path, body) {
    var opts = {method: method, headers: headers({Accept: 'application/json'})};
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    return fetch(path, opts).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        if (text) {
          try { data = JSON.parse(text); } catch (e) { data = null; }
        }
        if (res.status === 401) {
          $('token-form').hidden = false;
          var denied = new Error('this service needs an API token: ' + errorText(401, data));
          denied.status = 401;
          throw denied;
        }
        if (!res.ok) {
          var err = new Error(errorText(res.status, data));
          err.status = res.status;
          throw err;
        }
        return data;
      });
    });
  }

  function fail(prefix) {
    return function (err) { say(prefix + ': ' + (err && err.message ? err.message : err), true); };
  }

  // ---- plans list ---------------------------------------------------------------------------

  function planList(data) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data.plans)) return data.plans;
    if (data && Array.isArray(data.items)) return data.items;
    return [];
  }

  function loadPlans() {
    return api('GET', 'v1/plans').then(function (data) {
      S.plans = planList(data);
      renderPlans();
    }).catch(fail('listing plans'));
  }

  function renderPlans() {
    var ul = $('plans');
    clear(ul);
    S.plans.forEach(function (p) {
      var li = el('li');
      li.setAttribute('data-plan', String(p.id));
      if (String(p.id) === S.planId) li.classList.add('selected');
      li.appendChild(el('span', 'badge ' + String(p.status || ''), p.status || '?'));
      li.appendChild(el('span', 'pid', p.id));
      var info = [];
      if (p.revision) info.push('rev ' + p.revision);
      var nj = p.jobs !== undefined ? p.jobs : p.n_jobs;
      if (nj !== undefined) info.push(nj + ' stops');
      li.appendChild(el('span', 'muted', info.join(', ')));
      li.addEventListener('click', function () { selectPlan(String(p.id)); });
      ul.appendChild(li);
    });
    $('no-plans').hidden = S.plans.length > 0;
  }

  // ---- one plan -----------------------------------------------------------------------------

  function planPath(suffix) {
    return 'v1/plans/' + encodeURIComponent(S.planId) + (suffix || '');
  }

  function selectPlan(id) {
    if (S.planId !== id) {
      S.planId = id;
      S.plan = S.problem = S.geometry = S.revision = S.previous = null;
      S.fitted = null;
      openStream();
    }
    renderPlans();
    return refreshPlan();
  }

  function loadProblem(plan) {
    if (plan.problem) return Promise.resolve(plan.problem);
    if (S.problem) return Promise.resolve(S.problem);
    return api('GET', planPath('/problem')).catch(function () { return null; });
  }

  function refreshPlan() {
    var id = S.planId;
    if (!id) return Promise.resolve();
    return api('GET', planPath()).then(function (plan) {
      if (S.planId !== id) return null;
      S.plan = plan;
      return loadProblem(plan).then(function (problem) {
        S.problem = problem;
        var n = plan.revision || 0;
        if (n > 0 && (!S.revision || revNumber(S.revision) !== n)) {
          return api('GET', planPath('/revisions/' + n)).then(function (rev) {
            S.revision = rev;
            S.previous = null;
            var prev = rev && rev.previous;
            if (!prev) return null;
            // the revision before, to show how ETAs moved
            return api('GET', planPath('/revisions/' + prev)).then(function (p) {
              S.previous = p;
            }).catch(function () { S.previous = null; });
          }).catch(function () { S.revision = null; });
        }
        return null;
      });
    }).then(function () {
      if (S.planId !== id) return;
      S.geometry = (S.revision && S.revision.geometry) || (S.plan && S.plan.geometry) || null;
      render();
      schedulePoll();
    }).catch(function (err) {
      if (err && err.status === 404) {
        say('plan ' + id + ' no longer exists', true);
        S.planId = null;
        S.plan = null;
        render();
        loadPlans();
        return;
      }
      fail('loading plan')(err);
    });
  }

  function revNumber(rev) {
    if (!rev) return 0;
    return rev.n !== undefined ? rev.n : rev.revision;
  }

  function schedulePoll() {
    if (S.pollTimer) clearTimeout(S.pollTimer);
    S.pollTimer = null;
    // the stream tells when a revision lands; a status change without one (a failed solve)
    // is picked up by looking again while the plan is queued or solving
    if (S.plan && ACTIVE[S.plan.status]) {
      S.pollTimer = setTimeout(function () { refreshPlan(); loadPlans(); }, 2000);
    }
  }

  function solution() { return (S.plan && S.plan.solution) || null; }
  /** a cancelled stop is listed as unassigned with reason "cancelled": no longer a stop */
  function isCancelled(u) { return /^cancelled\b/.test(String((u && u.reason) || '')); }
  function unassigned() {
    var s = solution();
    return ((s && s.unassigned) || []).filter(function (u) { return !isCancelled(u); });
  }
  function cancelled() {
    var s = solution();
    return ((s && s.unassigned) || []).filter(isCancelled);
  }
  function routes() { var s = solution(); return (s && s.routes) || []; }

  function jobIndex() {
    var out = {};
    ((S.problem && S.problem.jobs) || []).forEach(function (j) { out[String(j.id)] = j; });
    return out;
  }

  function vehicleOrder() {
    var ids = ((S.problem && S.problem.vehicles) || []).map(function (v) { return String(v.id); });
    routes().forEach(function (r) {
      if (ids.indexOf(String(r.vehicle)) < 0) ids.push(String(r.vehicle));
    });
    return ids;
  }

  function colourOf(vid) {
    var i = vehicleOrder().indexOf(String(vid));
    return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
  }

  /** seconds by which a stop's service starts after its windows (routing.exports.lateness_s) */
  function lateness(step, job) {
    if (Array.isArray(step.violations)) {
      for (var k = 0; k < step.violations.length; k++) {
        var v = step.violations[k];
        if (v && v.cause === 'delay') return v.duration || 1;
      }
    }
    var ws = (job && job.time_windows) || [];
    if (!ws.length) return 0;
    var start = (step.arrival || 0) + (step.waiting_time || 0);
    var ended = null;
    for (var i = 0; i < ws.length; i++) {
      if (ws[i][0] <= start && start <= ws[i][1]) return 0;
      if (ws[i][1] < start && (ended === null || ws[i][1] > ended)) ended = ws[i][1];
    }
    return ended === null ? 0 : start - ended;
  }

  // changes that only shift a stop's position in its route are listed, not highlighted
  var QUIET_CHANGES = {resequenced: true, done: true};
  var CHANGE_ORDER = ['cancelled', 'added', 'moved', 'dropped', 'unassigned', 'done'];

  function changedJobs() {
    var out = {};
    ((S.revision && S.revision.changes) || []).forEach(function (c) {
      if (c && c.job_id !== undefined && !QUIET_CHANGES[c.change]) out[String(c.job_id)] = c;
    });
    return out;
  }

  function render() {
    var has = !!S.plan;
    $('plan-panel').hidden = !has;
    // events join the next revision, also while a re-plan runs
    $('event-panel').hidden = !(has && S.plan.revision > 0 && S.plan.status !== 'failed');
    renderPlanPanel();
    renderChanges();
    renderTimeline();
    if (S.map) S.map.invalidateSize({pan: false});  // the timeline may have changed height
    renderMap();
    renderEventChoices();
    document.body.setAttribute('data-plan', S.plan ? String(S.plan.id) : '');
    document.body.setAttribute('data-revision', S.plan ? String(S.plan.revision || 0) : '');
    document.body.setAttribute('data-status', S.plan ? String(S.plan.status) : '');
  }

  function fileLink(text, href, name) {
    var a = el('a', null, text);
    a.href = href;
    a.setAttribute('download', name);
    a.addEventListener('click', function (ev) {
      if (!S.token) return;  // a plain link works without a token
      ev.preventDefault();
      fetch(href, {headers: headers()}).then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.blob();
      }).then(function (blob) {
        var url = URL.createObjectURL(blob);
        var tmp = document.createElement('a');
        tmp.href = url;
        tmp.download = name;
        document.body.appendChild(tmp);
        tmp.click();
        tmp.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
      }).catch(fail('download'));
    });
    return a;
  }

  function renderPlanPanel() {
    if (!S.plan) return;
    var p = S.plan;
    $('plan-id').textContent = p.id;
    var status = String(p.status) + (p.revision ? ', revision ' + p.revision : '');
    $('plan-status').textContent = status;
    $('plan-error').hidden = !p.error;
    $('plan-error').textContent = p.error || '';
    var sum = $('plan-summary');
    clear(sum);
    var sol = solution();
    if (sol && sol.summary) {
      var dl = el('dl', 'summary');
      var rows = [['cost', sol.summary.cost], ['routes', sol.summary.routes],
        ['unassigned', unassigned().length], ['cancelled', cancelled().length || undefined], ['duration', sol.summary.duration !== undefined ?
          (sol.summary.duration / 3600).toFixed(1) + ' h' : undefined],
        ['distance', sol.summary.distance !== undefined ?
          (sol.summary.distance / 1000).toFixed(1) + ' km' : undefined]];
      rows.forEach(function (r) {
        if (r[1] === undefined || r[1] === null) return;
        dl.appendChild(el('dt', null, r[0]));
        dl.appendChild(el('dd', null, r[1]));
      });
      sum.appendChild(dl);
    }
    var sheets = $('sheets-link');
    sheets.href = planPath('/sheets');
    sheets.hidden = !sol;
    var tbody = $('vehicles').querySelector('tbody');
    clear(tbody);
    var jobs = jobIndex();
    routes().forEach(function (r) {
      var vid = String(r.vehicle);
      var tr = el('tr');
      tr.setAttribute('data-vehicle', vid);
      var sw = el('span', 'swatch');
      sw.style.background = colourOf(vid);
      var td0 = el('td');
      td0.appendChild(sw);
      tr.appendChild(td0);
      tr.appendChild(el('td', null, vid));
      var steps = r.steps || [];
      var stops = steps.filter(function (s) { return STOP_TYPES[s.type]; });
      var late = stops.filter(function (s) { return lateness(s, jobs[String(s.id)]) > 0; });
      tr.appendChild(el('td', null, stops.length));
      tr.appendChild(el('td', late.length ? 'late' : null, late.length));
      var last = steps.length ? steps[steps.length - 1] : null;
      tr.appendChild(el('td', null, last ? clock(last.arrival) : ''));
      var files = el('td');
      var base = planPath('/routes/' + encodeURIComponent(vid));
      files.appendChild(fileLink('GPX', base + '.gpx', 'route-' + vid + '.gpx'));
      files.appendChild(fileLink('KML', base + '.kml', 'route-' + vid + '.kml'));
      tr.appendChild(files);
      tbody.appendChild(tr);
    });
    var un = $('unassigned');
    clear(un);
    var list = unassigned();
    if (list.length) {
      var p1 = el('p', 'unassigned-list');
      p1.appendChild(el('strong', null, 'Unassigned (' + list.length + '): '));
      p1.appendChild(el('span', null, list.map(function (u) {
        return String(u.id) + (u.reason ? ' (' + u.reason + ')' : '');
      }).join(', ')));
      un.appendChild(p1);
    }
    var gone = cancelled();
    if (gone.length) {
      var p2 = el('p', 'cancelled-list');
      p2.appendChild(el('strong', null, 'Cancelled (' + gone.length + '): '));
      p2.appendChild(el('span', null, gone.map(function (u) { return String(u.id); }).join(', ')));
      un.appendChild(p2);
    }
  }

  /** per vehicle, how its stops' ETAs moved against the revision before (lines of text) */
  function etaShifts() {
    var before = {};
    var prev = S.previous && S.previous.solution;
    if (!prev || !S.revision || S.previous.revision !== S.revision.previous) return [];
    (prev.routes || []).forEach(function (r) {
      (r.steps || []).forEach(function (s) {
        if (STOP_TYPES[s.type]) before[String(s.id)] = s.arrival;
      });
    });
    var out = [];
    routes().forEach(function (r) {
      var d = [];
      (r.steps || []).forEach(function (s) {
        var b = before[String(s.id)];
        if (STOP_TYPES[s.type] && typeof b === 'number' && typeof s.arrival === 'number' &&
            s.arrival !== b) d.push(s.arrival - b);
      });
      var big = d.filter(function (x) { return Math.abs(x) >= 60; });
      if (!big.length) return;
      var lo = Math.min.apply(null, big);
      var hi = Math.max.apply(null, big);
      var fmt = function (x) { return (x > 0 ? '+' : '\u2212') + Math.round(Math.abs(x) / 60); };
      out.push('vehicle ' + r.vehicle + ': ' + big.length + ' ETAs moved ' +
        (Math.round(lo / 60) === Math.round(hi / 60) ? fmt(lo) : fmt(lo) + ' to ' + fmt(hi)) +
        ' min');
    });
    return out;
  }

  function renderChanges() {
    var panel = $('changes-panel');
    var rev = S.revision;
    panel.hidden = !rev;
    if (!rev) return;
    $('changes-rev').textContent = String(revNumber(rev));
    var ul = $('changes');
    clear(ul);
    var changes = (rev.changes || []).slice();
    var counts = {};
    var rank = function (c) {
      var i = CHANGE_ORDER.indexOf(String(c.change));
      return i < 0 ? CHANGE_ORDER.length : i;
    };
    changes.sort(function (a, b) { return rank(a) - rank(b); });
    var quiet = {};
    changes.forEach(function (c) {
      counts[c.change] = (counts[c.change] || 0) + 1;
      if (c.change === 'resequenced') {
        // many stops shift position when one changes: one line for all of them
        (quiet[c.change] = quiet[c.change] || []).push(String(c.job_id));
        return;
      }
      var li = el('li', String(c.change || ''));
      var text = 'stop ' + c.job_id + ': ' + c.change;
      if (c.from_vehicle !== undefined && c.from_vehicle !== null &&
          c.to_vehicle !== undefined && c.to_vehicle !== null &&
          String(c.from_vehicle) !== String(c.to_vehicle)) {
        text += ' (' + c.from_vehicle + ' \u2192 ' + c.to_vehicle + ')';
      } else if (c.to_vehicle !== undefined && c.to_vehicle !== null) {
        text += ' (' + c.to_vehicle + ')';
      } else if (c.from_vehicle !== undefined && c.from_vehicle !== null) {
        text += ' (was ' + c.from_vehicle + ')';
      }
      li.textContent = text;
      li.setAttribute('data-job', String(c.job_id));
      ul.appendChild(li);
    });
    Object.keys(quiet).forEach(function (k) {
      ul.appendChild(el('li', k, quiet[k].length + ' stops ' + k + ': ' + quiet[k].join(', ')));
    });
    var n = revNumber(rev);
    var summary = n <= 1 ? 'First plan.' : (changes.length ? Object.keys(counts).sort().map(
      function (k) { return counts[k] + ' ' + k; }).join(', ') : 'No stop changed.');
    var evs = rev.events || [];
    if (evs.length) summary += ' Events applied: ' + evs.length + '.';
    $('changes-summary').textContent = summary;
    etaShifts().forEach(function (t) { ul.appendChild(el('li', 'eta', t)); });
  }

  // ---- map ----------------------------------------------------------------------------------

  function initMap() {
    var map = L.map('map', {zoomControl: true, preferCanvas: false});
    S.map = map;
    window.shipaheadMap = map;
    map.attributionControl.setPrefix('Leaflet');
    map.setView([0, 0], 2);
    S.routeLayer = L.layerGroup().addTo(map);
    map.on('click', function (e) {  // where a stop being added is
      if ($('ev-type').value !== 'stop_added' || $('event-panel').hidden) return;
      $('ev-new-lon').value = e.latlng.lng.toFixed(6);
      $('ev-new-lat').value = e.latlng.lat.toFixed(6);
      if (S.pickMarker) S.pickMarker.remove();
      S.pickMarker = L.circleMarker(e.latlng, {radius: 7, color: '#ffd400', weight: 3})
        .addTo(map);
    });
  }

  function loadBase() {
    var map = S.map;
    if (S.baseLoaded) return Promise.resolve();
    S.baseLoaded = true;
    if (S.config.tiles) {
      L.tileLayer(S.config.tiles, {maxZoom: 19}).addTo(map);
      map.attributionControl.addAttribution(
        'Map data \u00a9 OpenStreetMap contributors (ODbL)');
      return Promise.resolve();
    }
    if (S.config.road_network === false) {  // started without --roads: nothing to draw
      document.body.setAttribute('data-network', '0');
      return Promise.resolve();
    }
    return api('GET', 'v1/network').then(function (geo) {
      if (!geo || !geo.features) return;
      var renderer = L.canvas({padding: 0.5});
      L.geoJSON(geo, {
        interactive: false,
        renderer: renderer,
        style: function (f) {
          var s = ROAD_STYLE[Math.min((f.properties && f.properties.tier) || 0, 2)];
          return {color: s.color, weight: s.weight, opacity: 0.9, renderer: renderer};
        }
      }).addTo(map);
      map.attributionControl.addAttribution(
        'Road network: OpenStreetMap contributors (ODbL)');
      if (geo.bbox && !S.fitted) {
        map.fitBounds([[geo.bbox[1], geo.bbox[0]], [geo.bbox[3], geo.bbox[2]]]);
      }
      document.body.setAttribute('data-network', String(geo.features.length));
    }).catch(function (err) {
      // a service without a road network (matrices only) has nothing to draw underneath
      if (!err || err.status !== 404) {
        S.baseLoaded = false;  // try again on the next boot (e.g. once a token is given)
        fail('loading the road network')(err);
      }
      document.body.setAttribute('data-network', '0');
    });
  }

  function tip(lines) {
    var d = el('div', 'sa-tip');
    lines.forEach(function (t, i) {
      if (i) d.appendChild(document.createElement('br'));
      d.appendChild(document.createTextNode(String(t)));
    });
    return d;
  }

  function stopIcon(seq, colour, late, changed, jobId) {
    var d = el('div', 'sa-stop' + (late ? ' late' : '') + (changed ? ' changed' : ''), seq);
    d.style.background = colour;
    d.setAttribute('data-job', String(jobId));
    return L.divIcon({className: '', html: d, iconSize: [22, 22], iconAnchor: [11, 11]});
  }

  function latLng(loc) {
    return Array.isArray(loc) && loc.length >= 2 && isFinite(loc[0]) && isFinite(loc[1]) ?
      [loc[1], loc[0]] : null;
  }

  function renderMap() {
    if (!S.map) return;
    S.routeLayer.clearLayers();
    var jobs = jobIndex();
    var changed = changedJobs();
    var bounds = [];
    var depots = {};
    routes().forEach(function (r) {
      var vid = String(r.vehicle);
      var colour = colourOf(vid);
      var line = null;
      var g = S.geometry && S.geometry[vid];
      if (Array.isArray(g) && g.length > 1) {
        line = g.map(function (p) { return [p[1], p[0]]; });
      } else {
        line = (r.steps || []).map(function (s) { return latLng(s.location); })
          .filter(function (p) { return p; });
      }
      if (line.length > 1) {
        var pl = L.polyline(line, {color: colour, weight: 4, opacity: 0.85});
        pl.bindTooltip(tip(['vehicle ' + vid]));
        pl.addTo(S.routeLayer);
        line.forEach(function (p) { bounds.push(p); });
      }
      var seq = 0;
      (r.steps || []).forEach(function (s) {
        var ll = latLng(s.location);
        if (STOP_TYPES[s.type]) {
          seq += 1;
          if (!ll) return;
          var job = jobs[String(s.id)] || {};
          var late = lateness(s, job);
          var ws = (job.time_windows || []).map(function (w) {
            return clock(w[0]) + '\u2013' + clock(w[1]);
          }).join(', ');
          var lines = [seq + '. stop ' + s.id + ' \u2014 vehicle ' + vid];
          if (s.description || job.description) lines.push(s.description || job.description);
          lines.push('ETA ' + clock(s.arrival) + (ws ? ', window ' + ws : ''));
          if (late > 0) lines.push('late by ' + Math.round(late / 60) + ' min');
          var c = changed[String(s.id)];
          if (c) lines.push('changed in this revision: ' + c.change);
          var m = L.marker(ll, {icon: stopIcon(seq, colour, late > 0, !!c, s.id), riseOnHover: true});
          m.bindTooltip(tip(lines));
          m.addTo(S.routeLayer);
          bounds.push(ll);
        } else if ((s.type === 'start' || s.type === 'end') && ll) {
          var key = ll[0].toFixed(6) + ',' + ll[1].toFixed(6);
          (depots[key] = depots[key] || {ll: ll, vehicles: []}).vehicles.push(vid);
          bounds.push(ll);
        }
      });
    });
    Object.keys(depots).sort().forEach(function (k) {
      var d = depots[k];
      var icon = L.divIcon({className: '', html: el('div', 'sa-depot', 'D'), iconSize: [22, 22],
        iconAnchor: [11, 11]});
      var seen = {};
      var vs = d.vehicles.filter(function (v) { return seen[v] ? false : (seen[v] = true); });
      L.marker(d.ll, {icon: icon, zIndexOffset: 1000})
        .bindTooltip(tip(['depot of ' + vs.join(', ')])).addTo(S.routeLayer);
    });
    var sol = solution();
    if (!sol && S.problem) {
      // not solved yet: where the stops are
      (S.problem.jobs || []).forEach(function (j) {
        var ll = latLng(j.location);
        if (!ll) return;
        L.circleMarker(ll, {radius: 4, color: '#555', weight: 1, fillColor: '#999',
          fillOpacity: 0.9}).bindTooltip(tip(['stop ' + j.id, j.description || '']))
          .addTo(S.routeLayer);
        bounds.push(ll);
      });
    }
    unassigned().forEach(function (u) {
      var job = jobs[String(u.id)] || {};
      var ll = latLng(u.location || job.location);
      if (!ll) return;
      L.circleMarker(ll, {radius: 6, color: '#666', weight: 2, fillColor: '#bbb', fillOpacity: 0.9})
        .bindTooltip(tip(['stop ' + u.id + ' (unassigned)', u.reason || job.description || '']))
        .addTo(S.routeLayer);
      bounds.push(ll);
    });
    if (bounds.length && S.fitted !== S.planId + (sol ? ':solved' : '')) {
      S.map.fitBounds(bounds, {padding: [24, 24]});
      S.fitted = S.planId + (sol ? ':solved' : '');
    }
    document.body.setAttribute('data-routes-drawn', String(routes().length));
  }

  // ---- timeline -----------------------------------------------------------------------------

  function renderTimeline() {
    var box = $('timeline');
    clear(box);
    var rs = routes();
    if (!rs.length) {
      box.appendChild(el('p', 'muted', S.plan ? 'No routes (yet).' : 'Select or submit a plan.'));
      return;
    }
    var jobs = jobIndex();
    var changed = changedJobs();
    var t0 = Infinity;
    var t1 = -Infinity;
    rs.forEach(function (r) {
      (r.steps || []).forEach(function (s) {
        if (typeof s.arrival === 'number') {
          t0 = Math.min(t0, s.arrival);
          t1 = Math.max(t1, s.arrival + (s.service || 0) + (s.waiting_time || 0));
        }
        var job = STOP_TYPES[s.type] ? jobs[String(s.id)] : null;
        ((job && job.time_windows) || []).forEach(function (w) {
          // an open window (end far away) must not squash the axis
          if (w[0] > t0 - 86400) t0 = Math.min(t0, w[0]);
          if (w[1] < t1 + 6 * 3600) t1 = Math.max(t1, w[1]);
        });
      });
    });
    if (!isFinite(t0) || !isFinite(t1)) return;
    t0 = Math.floor(t0 / 3600) * 3600;
    t1 = Math.max(t0 + 3600, Math.ceil(t1 / 3600) * 3600);
    var span = t1 - t0;
    function pct(t) { return (Math.max(t0, Math.min(t1, t)) - t0) / span * 100; }
    var axis = el('div', 'tl-axis');
    var step = span > 16 * 3600 ? 7200 : 3600;
    for (var t = t0; t <= t1; t += step) {
      var tick = el('span', 'tl-tick', clock(t));
      tick.style.left = pct(t) + '%';
      axis.appendChild(tick);
    }
    box.appendChild(axis);
    rs.forEach(function (r) {
      var vid = String(r.vehicle);
      var colour = colourOf(vid);
      var steps = r.steps || [];
      var stops = steps.filter(function (s) { return STOP_TYPES[s.type]; });
      // one lane per stop (in visiting order): its window as a bar, its ETA as a dot on it
      var row = el('div', 'tl-row');
      row.style.height = Math.max(24, stops.length * LANE_PX + 6) + 'px';
      row.setAttribute('data-vehicle', vid);
      var nLate = 0;
      var label = el('div', 'tl-label', vid);
      row.appendChild(label);
      var track = el('div', 'tl-track');
      if (steps.length) {
        var a = steps[0].arrival || 0;
        var b = steps[steps.length - 1].arrival || a;
        var spanEl = el('div', 'tl-span');
        spanEl.style.left = pct(a) + '%';
        spanEl.style.width = Math.max(0.2, pct(b) - pct(a)) + '%';
        spanEl.style.background = colour;
        track.appendChild(spanEl);
      }
      stops.forEach(function (s, k) {
        var top = 3 + k * LANE_PX;
        var job = jobs[String(s.id)] || {};
        var late = lateness(s, job);
        if (late > 0) nLate += 1;
        var ws = (job.time_windows || []).map(function (w) {
          return clock(w[0]) + '\u2013' + clock(w[1]);
        }).join(', ');
        var title = (k + 1) + '. stop ' + s.id + ': ETA ' + clock(s.arrival) +
          (ws ? ', window ' + ws : ', no window') +
          (late > 0 ? ', late by ' + Math.round(late / 60) + ' min' : '');
        (job.time_windows || []).forEach(function (w) {
          var win = el('div', 'tl-window' + (late > 0 ? ' late' : ''));
          win.style.left = pct(w[0]) + '%';
          win.style.width = Math.max(0.3, pct(w[1]) - pct(w[0])) + '%';
          win.style.top = top + 'px';
          win.setAttribute('title', title);
          track.appendChild(win);
        });
        var c = changed[String(s.id)];
        var dot = el('div', 'tl-eta' + (late > 0 ? ' late' : '') + (c ? ' changed' : ''));
        dot.style.left = pct(s.arrival || 0) + '%';
        dot.style.top = (top - 2) + 'px';
        dot.style.background = colour;
        dot.setAttribute('data-job', String(s.id));
        dot.setAttribute('title', title);
        track.appendChild(dot);
      });
      if (nLate) label.appendChild(el('span', 'tl-late-count', ' ' + nLate + ' late'));
      row.appendChild(track);
      box.appendChild(row);
    });
  }

  // ---- events -------------------------------------------------------------------------------

  function renderEventChoices() {
    var jobSel = $('ev-job');
    var vehSel = $('ev-vehicle');
    var keepJob = jobSel.value;
    var keepVeh = vehSel.value;
    clear(jobSel);
    clear(vehSel);
    var jobs = jobIndex();
    routes().forEach(function (r) {
      var seq = 0;
      (r.steps || []).forEach(function (s) {
        if (!STOP_TYPES[s.type]) return;
        seq += 1;
        var o = el('option', null, 'stop ' + s.id + ' (' + r.vehicle + ' #' + seq + ', ETA ' +
          clock(s.arrival) + ')');
        o.value = String(s.id);
        var d = s.description || (jobs[String(s.id)] || {}).description;
        if (d) o.setAttribute('title', String(d));
        jobSel.appendChild(o);
      });
    });
    unassigned().forEach(function (u) {
      var o = el('option', null, 'stop ' + u.id + ' (unassigned)');
      o.value = String(u.id);
      jobSel.appendChild(o);
    });
    vehicleOrder().forEach(function (vid) {
      var o = el('option', null, vid);
      o.value = vid;
      vehSel.appendChild(o);
    });
    if (keepJob) jobSel.value = keepJob;
    if (keepVeh) vehSel.value = keepVeh;
    // defaults the user has not changed follow the plan: the earliest departure (the start
    // of the day being dispatched) and the next free job id
    var first = null;
    routes().forEach(function (r) {
      var s = (r.steps || [])[0];
      if (s && typeof s.arrival === 'number' && (first === null || s.arrival < first)) {
        first = s.arrival;
      }
    });
    if (first !== null) autoFill('ev-at', clock(first - frameBase()));
    var maxId = 0;
    function seen(id) {
      var v = Number(id);
      if (isFinite(v) && v > maxId) maxId = v;
    }
    Object.keys(jobs).forEach(seen);
    routes().forEach(function (r) {
      (r.steps || []).forEach(function (s) { if (STOP_TYPES[s.type]) seen(s.id); });
    });
    (((solution() && solution().unassigned) || [])).forEach(function (u) { seen(u.id); });
    autoFill('ev-new-id', String(Math.floor(maxId) + 1));
    showEventFields();
  }

  /** set a field to a suggested value unless the user typed something else there */
  function autoFill(id, value) {
    var f = $(id);
    if (f.value === '' || f.value === f.getAttribute('data-auto')) f.value = value;
    f.setAttribute('data-auto', value);
  }

  function showEventFields() {
    var type = $('ev-type').value;
    var nodes = $('event-form').querySelectorAll('[data-for]');
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].hidden = nodes[i].getAttribute('data-for') !== type;
    }
  }

  function numberField(id, what) {
    var v = $(id).value;
    if (v === '' || !isFinite(Number(v))) throw new Error(what + ' is missing');
    return Number(v);
  }

  /** the event the form describes (the service's event vocabulary) */
  function buildEvent() {
    var type = $('ev-type').value;
    var base = frameBase();
    var at = parseClock($('ev-at').value);
    if (at === null) throw new Error('give the time of the event (HH:MM)');
    var ev = {
      event_id: 'console-' + Date.now().toString(36) + '-' +
        Math.floor(Math.random() * 1e9).toString(36),
      type: type,
      at: base + at
    };
    if (type === 'stop_cancelled') {
      var jid = $('ev-job').value;
      if (!jid) throw new Error('choose the stop to cancel');
      ev.job_id = /^\d+$/.test(jid) ? Number(jid) : jid;
    } else if (type === 'vehicle_delay') {
      var vid = $('ev-vehicle').value;
      if (!vid) throw new Error('choose the vehicle');
      ev.vehicle_id = /^\d+$/.test(vid) ? Number(vid) : vid;
      ev.delay = Math.round(numberField('ev-delay', 'the delay') * 60);
    } else if (type === 'stop_added') {
      var id = Math.round(numberField('ev-new-id', 'the new stop id'));
      var job = {
        id: id,
        location: [numberField('ev-new-lon', 'the longitude'),
          numberField('ev-new-lat', 'the latitude')],
        service: Math.round(numberField('ev-new-service', 'the service time') * 60),
        delivery: [Math.round(numberField('ev-new-amount', 'the delivery amount'))]
      };
      var desc = $('ev-new-desc').value.trim();
      if (desc) job.description = desc;
      var w0 = parseClock($('ev-new-tw0').value);
      var w1 = parseClock($('ev-new-tw1').value);
      if ((w0 === null) !== (w1 === null)) throw new Error('give both ends of the window');
      if (w0 !== null) job.time_windows = [[base + w0, base + w1]];
      // the new job's VROOM fields ride on the event itself
      ev.job_id = id;
      Object.keys(job).forEach(function (k) { if (k !== 'id') ev[k] = job[k]; });
    }
    return ev;
  }

  function sendEvent(e) {
    e.preventDefault();
    if (!S.planId) return;
    var ev;
    try { ev = buildEvent(); } catch (err) { say(err.message, true); return; }
    var btn = $('send-event');
    btn.disabled = true;
    api('POST', planPath('/events'), [ev]).then(function (res) {
      say('event accepted' + (res && res.revision ? ': it will be in revision ' + res.revision :
        '') + '; re-planning\u2026');
      return refreshPlan();
    }).catch(fail('event refused')).then(function () { btn.disabled = false; });
  }

  // ---- live updates -------------------------------------------------------------------------

  function setLive(on) {
    var c = $('conn');
    c.textContent = on ? 'live' : 'offline';
    c.classList.toggle('live', on);
  }

  function onStreamMessage(data) {
    var msg = null;
    try { msg = data ? JSON.parse(data) : null; } catch (e) { msg = null; }
    if (msg && msg.revision && S.plan && msg.revision !== S.plan.revision) {
      say('revision ' + msg.revision + ' landed');
    }
    refreshPlan();
    loadPlans();
  }

  function closeStream() {
    if (S.stream) {
      S.stream.close();
      S.stream = null;
    }
    setLive(false);
  }

  function openStream() {
    closeStream();
    if (!S.planId) return;
    var url = planPath('/stream');
    if (!S.token && window.EventSource) {
      var es = new EventSource(url);
      S.stream = es;
      es.onopen = function () { setLive(true); };
      es.onerror = function () { setLive(es.readyState === 1); };
      es.onmessage = function (m) { onStreamMessage(m.data); };
      ['revision', 'status', 'plan', 'deleted'].forEach(function (name) {
        es.addEventListener(name, function (m) { onStreamMessage(m.data); });
      });
      return;
    }
    // EventSource cannot send an Authorization header: read the stream with fetch
    var ctrl = new AbortController();
    S.stream = {close: function () { ctrl.abort(); }};
    fetch(url, {headers: headers({Accept: 'text/event-stream'}), signal: ctrl.signal})
      .then(function (res) {
        if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
        setLive(true);
        var reader = res.body.getReader();
        var dec = new TextDecoder();
        var buf = '';
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) { setLive(false); return null; }
            buf += dec.decode(chunk.value, {stream: true}).replace(/\r\n?/g, '\n');
            var cut;
            while ((cut = buf.indexOf('\n\n')) >= 0) {
              var block = buf.slice(0, cut);
              buf = buf.slice(cut + 2);
              var data = block.split('\n').filter(function (l) { return l.indexOf('data:') === 0; })
                .map(function (l) { return l.slice(5).replace(/^ /, ''); }).join('\n');
              if (data) onStreamMessage(data);
            }
            return pump();
          });
        }
        return pump();
      }).catch(function () { setLive(false); });
  }

  // ---- problem submission -------------------------------------------------------------------

  function submitProblem(e) {
    e.preventDefault();
    var text = $('problem-text').value.trim();
    if (!text) { say('paste a problem or choose a file first', true); return; }
    try { JSON.parse(text); } catch (err) {
      say('the problem is not JSON: ' + err.message, true);
      return;
    }
    var btn = $('submit-problem');
    btn.disabled = true;
    api('POST', 'v1/plans', text).then(function (res) {
      say('plan ' + res.id + ' ' + (res.status || 'queued'));
      return loadPlans().then(function () { return selectPlan(String(res.id)); });
    }).catch(fail('problem refused')).then(function () { btn.disabled = false; });
  }

  function readFile() {
    var f = $('problem-file').files[0];
    if (!f) return;
    var r = new FileReader();
    r.onload = function () { $('problem-text').value = String(r.result); };
    r.onerror = function () { say('could not read ' + f.name, true); };
    r.readAsText(f);
  }

  function deletePlan() {
    if (!S.planId || !window.confirm('Delete plan ' + S.planId + '?')) return;
    api('DELETE', planPath()).then(function () {
      closeStream();
      S.planId = null;
      S.plan = null;
      render();
      return loadPlans();
    }).catch(fail('delete'));
  }

  // ---- start --------------------------------------------------------------------------------

  function start() {
    $('problem-form').addEventListener('submit', submitProblem);
    $('problem-file').addEventListener('change', readFile);
    $('refresh-plans').addEventListener('click', loadPlans);
    $('event-form').addEventListener('submit', sendEvent);
    $('ev-type').addEventListener('change', showEventFields);
    $('delete-plan').addEventListener('click', deletePlan);
    $('token').value = S.token;
    $('token-form').addEventListener('submit', function (e) {
      e.preventDefault();
      S.token = $('token').value.trim();
      sessionStorage.setItem('shipahead-token', S.token);
      $('token-form').hidden = true;
      boot();
    });
    showEventFields();
    render();
    boot();
  }

  function boot() {
    return api('GET', 'v1/config').catch(function (err) {
      if (err && err.status === 401) throw err;
      return null;
    }).then(function (cfg) {
      if (cfg && typeof cfg === 'object') S.config = cfg;
      if (!S.map) initMap();
      loadBase();
      return loadPlans();
    }).then(function () {
      var want = (location.hash || '').replace(/^#plan=/, '');
      if (want && want !== location.hash) selectPlan(decodeURIComponent(want));
      if (S.planId) openStream();  // again, with the token now given
      document.body.setAttribute('data-ready', '1');
    }).catch(function (err) {
      if (!S.map) initMap();
      fail('connecting')(err);
    });
  }

  setInterval(function () { if (!document.hidden) loadPlans(); }, 15000);
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
