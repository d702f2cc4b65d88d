/*
 * Beijing 12345 hotline - supervisor wall: the charts and the map (ECharts 5, vendored at
 * /static/vendor/echarts/, the global `echarts`; Beijing's districts from /static/vendor/geo/beijing.json).
 *
 * Everything is drawn on canvas and tooltips are rendered as rich text inside the canvas
 * (renderMode 'richText'): no API text ever becomes HTML, and no inline styles meet the
 * page's Content-Security-Policy.
 *
 *   const charts = new WallCharts(); await charts.start(); charts.update(data); charts.stop();
 */
import { num, rows } from './wall-format.js';

const COLORS = ['#1558b0', '#b3261e', '#1e7a3a', '#9a5b00', '#6a3fb5', '#0f7c8c', '#c2185b', '#5f6b7a'];
const TEXT = '#1d2430';
const MUTED = '#5f6b7a';
const AXIS = { axisLabel: { color: MUTED, fontSize: 13 }, axisLine: { lineStyle: { color: '#b9c1cc' } } };
const TOOLTIP = { renderMode: 'richText', confine: true, backgroundColor: '#ffffff', borderColor: '#b9c1cc', textStyle: { color: TEXT } };
const IDS = { map: 'chart-map', hour: 'chart-hour', channel: 'chart-channel', district: 'chart-district', topic: 'chart-topic', kind: 'chart-kind' };

function base() {
  return { color: COLORS, animationDuration: 300, animationDurationUpdate: 300, textStyle: { fontSize: 13 }, tooltip: TOOLTIP };
}

function barOption(list, opts) {
  const o = opts || {};
  const items = o.horizontal ? list.slice().reverse() : list;
  const cat = Object.assign({ type: 'category', data: items.map((r) => r.label) }, AXIS,
    { axisLabel: Object.assign({}, AXIS.axisLabel, o.rotate ? { rotate: o.rotate, interval: 0 } : {}) });
  const val = Object.assign({ type: 'value', minInterval: 1, splitLine: { lineStyle: { color: '#e8ebf0' } } }, AXIS);
  return Object.assign(base(), {
    grid: { left: o.line ? 28 : 12, right: 24, top: 20, bottom: 8, containLabel: true },  // a line's first label sits on the edge
    tooltip: Object.assign({ trigger: 'axis', axisPointer: { type: 'shadow' } }, TOOLTIP),
    xAxis: o.horizontal ? val : cat,
    yAxis: o.horizontal ? cat : val,
    series: [{
      type: o.line ? 'line' : 'bar', name: '受理量', data: items.map((r) => r.count), barMaxWidth: 36,
      itemStyle: { color: o.color || COLORS[0] }, showSymbol: items.length <= 40, areaStyle: o.line ? { opacity: 0.15 } : undefined,
      label: { show: items.length <= 24, position: o.horizontal ? 'right' : 'top', color: TEXT, fontSize: 13, formatter: (p) => (p.value ? String(p.value) : '') }
    }]
  });
}

export class WallCharts {
  constructor() {
    this.charts = {};
    this.mapReady = false;
    this.observer = null;
    this.data = null;
  }

  available() { return typeof window.echarts === 'object' && window.echarts !== null; }

  // Creates the chart instances (the containers must be visible) and loads the map once.
  start() {
    if (!this.available()) return Promise.reject(new Error('echarts missing'));
    const echarts = window.echarts;
    Object.keys(IDS).forEach((name) => {
      const el = document.getElementById(IDS[name]);
      if (el && !this.charts[name]) this.charts[name] = echarts.init(el, null, { locale: 'ZH', renderer: 'canvas' });
    });
    this.observer = new ResizeObserver(() => this.resize());
    Object.keys(IDS).forEach((name) => { const el = document.getElementById(IDS[name]); if (el) this.observer.observe(el); });
    if (this.mapReady || echarts.getMap('beijing')) { this.mapReady = true; return Promise.resolve(); }
    return fetch('/static/vendor/geo/beijing.json', { credentials: 'same-origin' }).then((res) => {
      if (!res.ok) throw new Error('map ' + res.status);
      return res.json();
    }).then((geo) => {
      // Each district's centre (the GeoJSON's `cp`): where an open 热点 is marked.
      this.centers = {};
      (geo.features || []).forEach((f) => {
        const p = f.properties || {};
        if (p.name && Array.isArray(p.cp)) this.centers[p.name] = p.cp;
      });
      echarts.registerMap('beijing', geo);
      this.mapReady = true;
      if (this.data) this.drawMap(this.data);
    });
  }

  stop() {
    if (this.observer) this.observer.disconnect();
    this.observer = null;
    Object.keys(this.charts).forEach((name) => this.charts[name].dispose());
    this.charts = {};
    this.data = null;
  }

  resize() {
    Object.keys(this.charts).forEach((name) => this.charts[name].resize());
  }

  update(data) {
    this.data = data;
    const v = data.volume || {};
    // Per hour up to 7 days (labels '08时', or '12-06 08时' over several days), per day beyond ('12-06').
    const hours = rows(v.by_hour);
    this.set('hour', barOption(hours, { line: hours.length > 24 }));
    this.set('kind', barOption(rows(v.by_kind), { color: COLORS[2] }));
    this.set('topic', barOption(rows(v.by_topic).sort((a, b) => b.count - a.count).slice(0, 10), { horizontal: true, color: COLORS[3] }));
    this.set('district', barOption(rows(v.by_district), { rotate: rows(v.by_district).length > 8 ? 40 : 0, color: COLORS[1] }));
    this.set('channel', this.channelOption(rows(v.by_channel)));
    this.describe('hour', v.timeline === 'day' ? '每日受理量' : '分时受理量', hours);
    this.describe('kind', '各类型受理量', rows(v.by_kind));
    this.describe('topic', '诉求主题', rows(v.by_topic));
    this.describe('district', '各区受理量', rows(v.by_district));
    this.describe('map', '北京市各区受理量地图', rows(v.by_district));
    this.describe('channel', '各渠道受理量', rows(v.by_channel));
    if (this.mapReady) this.drawMap(data);
  }

  set(name, option) {
    const chart = this.charts[name];
    if (chart) chart.setOption(option, { notMerge: true, lazyUpdate: false });
  }

  // The numbers behind a chart, for screen readers (the canvas itself says nothing).
  describe(name, title, list) {
    const el = document.getElementById(IDS[name]);
    if (!el) return;
    const shown = list.filter((r) => r.count > 0);
    el.setAttribute('aria-label', title + '：' + (shown.length ? shown.map((r) => r.label + ' ' + r.count + ' 件').join('，') : '暂无受理'));
  }

  channelOption(list) {
    return Object.assign(base(), {
      tooltip: Object.assign({ trigger: 'item', formatter: '{b}：{c} 件（{d}%）' }, TOOLTIP),
      legend: { bottom: 0, textStyle: { color: TEXT, fontSize: 13 } },
      series: [{
        type: 'pie', name: '受理渠道', radius: ['38%', '66%'], center: ['50%', '45%'],
        data: list.map((r) => ({ name: r.label, value: r.count })),
        label: { formatter: '{b} {c}', color: TEXT, fontSize: 13 },
        avoidLabelOverlap: true
      }]
    });
  }

  drawMap(data) {
    const list = rows((data.volume || {}).by_district);
    const max = list.reduce((m, r) => Math.max(m, r.count), 0);
    const points = (Array.isArray(data.points) ? data.points : []).filter((p) => p && isFinite(p.lat) && isFinite(p.lon))
      .map((p) => ({ name: p.topic ? String(p.topic) : '', value: [num(p.lon), num(p.lat), 1] }));
    const centers = this.centers || {};
    const hot = (Array.isArray(data.hotspots) ? data.hotspots : [])
      .filter((x) => x && x.state === 'open' && Array.isArray(centers[x.district]))
      .map((x) => ({ name: [x.street || x.district, x.topic].filter(Boolean).map(String).join(' · '),
        value: [num(centers[x.district][0]), num(centers[x.district][1]), num(x.count)] }));
    const el = document.getElementById(IDS.map);
    if (el && hot.length) el.setAttribute('aria-label', el.getAttribute('aria-label') + '；正在处置的热点：' + hot.map((x) => x.name).join('，'));
    this.set('map', Object.assign(base(), {
      tooltip: Object.assign({ trigger: 'item' }, TOOLTIP),
      visualMap: {
        type: 'continuous', min: 0, max: Math.max(1, max), seriesIndex: 0, calculable: false,
        left: 12, bottom: 12, text: ['多', '少'], textStyle: { color: MUTED },
        inRange: { color: ['#eef3fb', '#9dbbe6', '#1558b0'] }
      },
      geo: {
        map: 'beijing', roam: false, top: 12, bottom: 12, left: 'center',
        label: { show: true, color: TEXT, fontSize: 12 },
        // The three smallest districts are too small for their names at this size (a tooltip names them).
        regions: ['东城区', '西城区', '石景山区'].map((name) => ({ name: name, label: { show: false } })),
        itemStyle: { borderColor: '#7d8a9c', borderWidth: 1, areaColor: '#f4f6f9' },
        emphasis: { label: { color: TEXT }, itemStyle: { areaColor: '#f5c542' } }
      },
      series: [
        {
          type: 'map', name: '受理量', geoIndex: 0,
          data: list.map((r) => ({ name: r.key || r.label, value: r.count }))
        },
        {
          type: 'scatter', name: '诉求位置', coordinateSystem: 'geo', data: points, symbolSize: 9,
          itemStyle: { color: '#b3261e', borderColor: '#ffffff', borderWidth: 1 },
          tooltip: { formatter: (p) => (p.name ? p.name : '诉求') + '（有坐标）' }
        },
        {
          // Open 热点 at their district's centre (streets have no coordinates here, docs/wall.md).
          type: 'effectScatter', name: '热点', coordinateSystem: 'geo', data: hot, symbolSize: 16,
          rippleEffect: { scale: 3, brushType: 'stroke' }, itemStyle: { color: '#e8710a' },
          label: { show: true, position: 'right', formatter: (p) => '热点 ' + p.name, color: '#8a3b00', fontSize: 12,
            backgroundColor: 'rgba(255, 255, 255, 0.92)', borderColor: '#e8710a', borderWidth: 1, borderRadius: 3, padding: [2, 4] },
          tooltip: { formatter: (p) => '热点：' + p.name + '，' + p.value[2] + ' 件' }
        }
      ]
    }));
  }
}
